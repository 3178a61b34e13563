"""Routing: queues, agents and presence, assignment, SLA clocks, calendars and staffing."""

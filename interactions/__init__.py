"""The store: models, migrations, the single door `record_contact`, matching and triage."""

from interactions.contacts import Attachment, InboundContact, RecordedContact, record_contact
from interactions.store import Store

# Imported for its effect: partner changes keep the match index current in every session.
from interactions import match_index  # noqa: F401  # isort: skip

__all__ = ["Attachment", "InboundContact", "RecordedContact", "Store", "record_contact"]

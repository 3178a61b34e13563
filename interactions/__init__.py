"""The store: models, migrations, the single door `record_contact`, matching and triage."""

from interactions.contacts import Attachment, InboundContact, RecordedContact, record_contact
from interactions.store import Store

__all__ = ["Attachment", "InboundContact", "RecordedContact", "Store", "record_contact"]

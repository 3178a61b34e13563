"""Tables of the web form: the rate-limit counters every Stik node shares."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from interactions.models import Base


class WebRateCounter(Base):
    """How many requests one key (a client address, a hashed email) made in one period."""

    __tablename__ = "web_rate_counter"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    period: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    hits: Mapped[int] = mapped_column(default=0)

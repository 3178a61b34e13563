"""Triage configuration as the classifier uses it: the category list and the rules.

Read from the `triage_category` and `triage_rule` tables, or from the shipped
defaults where no database is at hand. Phrases are parsed once here.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.triage import defaults
from interactions.triage.models import TriageCategory, TriageRule
from interactions.triage.text import PhraseGroup


@dataclass(frozen=True)
class Category:
    code: str
    name_sl: str
    name_en: str
    ticket_kind: str
    queue_code: str | None
    priority: int
    opens_ticket: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Category":
        return cls(
            code=row["code"],
            name_sl=row["name_sl"],
            name_en=row["name_en"],
            ticket_kind=row["ticket_kind"],
            queue_code=row["queue_code"],
            priority=int(row["priority"]),
            opens_ticket=bool(row["opens_ticket"]),
        )


@dataclass(frozen=True)
class Rule:
    """An urgency rule with its phrases parsed."""

    code: str
    kind: str  # text | deadline | repeat | vulnerable
    description: str
    groups: tuple[PhraseGroup, ...]
    categories: frozenset[str]
    within_days: int | None
    priority: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Rule":
        groups = tuple(PhraseGroup.parse(group) for group in row.get("phrases") or [])
        return cls(
            code=row["code"],
            kind=row["kind"],
            description=row["description"],
            groups=groups,
            categories=frozenset(row.get("categories") or []),
            within_days=row.get("within_days"),
            priority=int(row["priority"]),
        )

    def applies_to(self, category: str) -> bool:
        return not self.categories or category in self.categories

    def matches_text(self, tokens: list[str]) -> bool:
        """True when every phrase group has a phrase in `tokens`."""
        return bool(self.groups) and all(group.search(tokens) for group in self.groups)

    def matches_deadline(self, tokens: list[str], dates: list[date], received: date) -> bool:
        """True when the text matches and one of `dates` falls within the rule's days."""
        if self.within_days is None or not self.matches_text(tokens):
            return False
        last = received + timedelta(days=self.within_days)
        return any(received <= day <= last for day in dates)


@dataclass(frozen=True)
class TriageConfig:
    categories: dict[str, Category]
    rules: tuple[Rule, ...]
    triage_queue: str = defaults.TRIAGE_QUEUE

    @classmethod
    def shipped(cls) -> "TriageConfig":
        """The configuration migration 0004 seeds, for use without a database."""
        return cls.from_rows(defaults.CATEGORIES, [{**r, "active": True} for r in defaults.RULES])

    @classmethod
    def from_rows(
        cls, categories: list[dict[str, Any]], rules: list[dict[str, Any]]
    ) -> "TriageConfig":
        return cls(
            categories={
                row["code"]: Category.from_row(row)
                for row in sorted(categories, key=lambda r: r.get("position", 0))
                if row.get("active", True)
            },
            rules=tuple(Rule.from_row(row) for row in rules if row.get("active", True)),
        )

    def category(self, code: str) -> Category:
        """Return the category `code`, or a plain one for a code the list lacks."""
        found = self.categories.get(code)
        if found is not None:
            return found
        return Category(code, code, code, "question", None, 3, True)


async def load_config(session: AsyncSession) -> TriageConfig:
    """Read the code list and the rules from the database."""
    categories = (await session.execute(select(TriageCategory))).scalars().all()
    rules = (await session.execute(select(TriageRule))).scalars().all()
    return TriageConfig.from_rows([_columns(c) for c in categories], [_columns(r) for r in rules])


def _columns(row: Any) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}

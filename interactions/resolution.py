"""What the matcher says about a contact: who it is, how sure, and why."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Candidate:
    partner_id: int
    score: float
    reasons: tuple[str, ...] = ()
    metering_point_id: int | None = None
    external_id: str | None = None
    metering_point: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "external_id": self.external_id,
            "metering_point_id": self.metering_point_id,
            "metering_point": self.metering_point,
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    candidates: tuple[Candidate, ...] = field(default=())

    @property
    def best(self) -> Candidate | None:
        if self.outcome is Outcome.MATCHED and self.candidates:
            return self.candidates[0]
        return None


UNKNOWN = Resolution(Outcome.UNKNOWN)

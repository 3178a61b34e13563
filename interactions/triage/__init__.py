"""Auto-triage of written contacts: category, confidence, priority, language, quotes.

Importing this package is light; scikit-learn loads with the model, on first use.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from interactions.store import Store

if TYPE_CHECKING:
    from interactions.triage.service import Triage


def install(store: Store, model_dir: Path | None = None) -> "Triage":
    """Plug triage into `record_contact` as the store's classifier and refiner.

    `model_dir` holds the model `stik triage retrain` writes; without one, the model
    trained on the shipped labelled messages is used. The model loads on first use.
    """
    from interactions.triage.service import Triage

    triage = Triage(model_dir)
    triage.default_legal_entity = store.default_legal_entity
    store.classifier = triage.classify
    store.refiner = triage.refine
    return triage


__all__ = ["install"]

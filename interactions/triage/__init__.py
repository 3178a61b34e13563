"""Auto-triage of written contacts: category, confidence, priority, language, quotes."""

from pathlib import Path

from interactions.store import Store
from interactions.triage.service import Triage, Triaged


def install(store: Store, model_dir: Path | None = None) -> Triage:
    """Plug triage into `record_contact` as the store's classifier and refiner.

    `model_dir` holds the model `stik triage retrain` writes; without one, the model
    trained on the shipped labelled messages is used. The model loads on first use.
    """
    triage = Triage(model_dir)
    store.classifier = triage.classify
    store.refiner = triage.refine
    return triage


__all__ = ["Triage", "Triaged", "install"]

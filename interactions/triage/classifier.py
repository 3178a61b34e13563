"""The learned part of triage: character and word n-gram TF-IDF with a linear SVM.

The model is trained from the labelled messages shipped in `data/train.txt`, plus
the decisions people made in the triage queue. Each training run writes a version
derived from its algorithm and its exact training data, so a stored prediction
names the model that made it. `data/heldout.txt` is only ever used to evaluate.
"""

import functools
import hashlib
import os
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
import structlog
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from interactions.triage.text import MODEL_FILE, fold, model_text

log = structlog.get_logger(__name__)

ALGORITHM = "tfidf-svm-1"
DATA = Path(__file__).parent / "data"
TRAIN_FILE = DATA / "train.txt"
HELDOUT_FILE = DATA / "heldout.txt"

#: At most this share of messages goes to people (measured by cross-validation) ...
PEOPLE_SHARE = 0.15
#: ... and no more than it takes for the rest to be right this often.
AUTOMATIC_ACCURACY = 0.95

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    category: str
    language: str  # sl, en or mix
    subject: str
    body: str

    @property
    def text(self) -> str:
        return model_text(self.subject, self.body)


def load_examples(path: Path) -> list[Example]:
    """Read a labelled file: `[category]` headings, then `language | subject | body` lines."""
    examples: list[Example] = []
    category = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip()
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if category is None or len(parts) != 3:
            raise ValueError(f"{path.name}:{number}: expected 'language | subject | body'")
        language, subject, body = parts
        examples.append(Example(category, language, subject, body.replace("\\n", "\n")))
    return examples


def _prepare(text: str) -> str:
    return _DIGITS.sub("0", fold(text))


def _typo(text: str, rng: random.Random) -> str:
    """Return `text` with a few keyboard slips: a dropped, doubled or swapped letter."""
    words = text.split(" ")
    for index, word in enumerate(words):
        if len(word) < 5 or rng.random() > 0.25:
            continue
        at = rng.randrange(1, len(word) - 2)
        kind = rng.randrange(3)
        if kind == 0:
            words[index] = word[:at] + word[at + 1 :]
        elif kind == 1:
            words[index] = word[:at] + word[at] + word[at:]
        else:
            words[index] = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return " ".join(words)


def strip_diacritics(text: str) -> str:
    """Return `text` as typed on a keyboard without č, š and ž, keeping the case."""
    return "".join(
        f if c.islower() or not c.isalpha() else f.upper()
        for c, f in zip(text, fold(text), strict=True)
    )


def augment(examples: Sequence[Example], seed: int = 7) -> tuple[list[str], list[str], list[int]]:
    """Return texts, labels and source groups: each message as written, without
    diacritics, and with typos."""
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[str] = []
    groups: list[int] = []
    for group, example in enumerate(examples):
        text = example.text
        for variant in (text, strip_diacritics(text), _typo(text, rng)):
            texts.append(variant)
            labels.append(example.category)
            groups.append(group)
    return texts, labels, groups


def build_features() -> FeatureUnion:
    """Character n-grams (typos, inflection) beside word uni- and bigrams."""
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        min_df=2,
        preprocessor=_prepare,
        dtype=np.float64,
    )
    words = TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        sublinear_tf=True,
        preprocessor=_prepare,
        token_pattern=r"(?u)\b\w\w+\b",
        dtype=np.float64,
    )
    return FeatureUnion([("chars", chars), ("words", words)])  # fmt: skip


def build_classifier() -> LinearSVC:
    return LinearSVC(C=0.3, class_weight="balanced")


def data_version(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.category}\t{example.text}\n".encode())
    return f"{ALGORITHM}-{digest.hexdigest()[:10]}"


class _Block:
    """One fitted TF-IDF vectoriser, applied to a single text without sparse matrices."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = {
            str(k): int(v) for k, v in vectorizer.vocabulary_.items()
        }
        self.idf = vectorizer.idf_

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(self.analyze(text))
        index = [self.vocabulary[gram] for gram in counts if gram in self.vocabulary]
        if not index:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        tf = np.array([counts[gram] for gram in counts if gram in self.vocabulary], dtype=float)
        columns = np.array(index, dtype=np.int64)
        values = (1.0 + np.log(tf)) * self.idf[columns]
        return columns, values / np.linalg.norm(values)


@dataclass
class TrainedModel:
    """A fitted model with its version, its temperature and the confidence below which
    people decide."""

    features: FeatureUnion
    classifier: LinearSVC
    version: str
    temperature: float
    threshold: float
    trained_at: datetime
    examples: int
    cv: dict[str, float] = field(default_factory=dict)
    shipped: str = ""  # the version of the shipped training data it was built on
    _blocks: list[tuple[_Block, int]] | None = field(default=None, repr=False)

    @property
    def categories(self) -> list[str]:
        return [str(c) for c in self.classifier.classes_]

    def predict(self, text: str) -> tuple[str, float]:
        """Return the most likely category of `text` and its confidence (0..1)."""
        scores = self._scores(text)
        probabilities = softmax(scores * self.temperature)
        best = int(probabilities.argmax())
        return str(self.classifier.classes_[best]), float(probabilities[best])

    def predict_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return [self.predict(text) for text in texts]

    def _scores(self, text: str) -> np.ndarray:
        if self._blocks is None:
            self._blocks = []
            offset = 0
            for _, vectorizer in self.features.transformer_list:
                self._blocks.append((_Block(vectorizer), offset))
                offset += len(vectorizer.vocabulary_)
        coef = self.classifier.coef_
        scores = np.array(self.classifier.intercept_, dtype=float)
        for block, offset in self._blocks:
            columns, values = block.features(text)
            if len(columns):
                scores = scores + coef[:, columns + offset] @ values
        return scores

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_blocks": None}


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    normalised: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return normalised


def train(
    examples: Sequence[Example], people_share: float = PEOPLE_SHARE, folds: int = 4
) -> TrainedModel:
    """Fit a model on `examples`; temperature and threshold come from cross-validation."""
    texts, labels, groups = augment(examples)
    temperature, threshold, cv = _calibrate(texts, labels, groups, people_share, folds)

    features = build_features()
    classifier = build_classifier().fit(features.fit_transform(texts), labels)
    model = TrainedModel(
        features=features,
        classifier=classifier,
        version=data_version(examples),
        temperature=temperature,
        threshold=threshold,
        trained_at=datetime.now(UTC),
        examples=len(examples),
        cv=cv,
        shipped=shipped_version(),
    )
    log.info("triage_model_trained", version=model.version, examples=len(examples), **cv)
    return model


def _calibrate(
    texts: list[str], labels: list[str], groups: list[int], people_share: float, folds: int
) -> tuple[float, float, dict[str, float]]:
    """Return the softmax temperature that fits unseen messages best, and the confidence
    below which messages go to people."""
    target = np.array(labels)
    scores: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    folds = max(2, min(folds, len(set(groups))))
    for fit, test in GroupKFold(n_splits=folds).split(texts, labels, groups):
        features = build_features()
        classifier = build_classifier().fit(
            features.fit_transform([texts[i] for i in fit]), target[fit]
        )
        decision = classifier.decision_function(features.transform([texts[i] for i in test]))
        known = np.isin(target[test], classifier.classes_)
        scores.append(decision[known])
        truth.append(np.searchsorted(classifier.classes_, target[test][known]))
        if len(classifier.classes_) != len(set(labels)):
            break  # a category too small to appear in every fold: one fold is enough
    decision = np.vstack(scores)
    true_index = np.concatenate(truth)

    def loss(temperature: float) -> float:
        p = softmax(decision * temperature)[np.arange(len(true_index)), true_index]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    temperature = min((1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0), key=loss)
    probabilities = softmax(decision * temperature)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == true_index
    threshold = _threshold(confidence, correct, people_share)
    kept = correct[confidence >= threshold]
    predicted = probabilities.argmax(axis=1)
    cv = {
        "cv_accuracy": round(float(correct.mean()), 4),
        "cv_macro_f1": round(
            float(f1_score(true_index, predicted, average="macro", zero_division=0)), 4
        ),
        "cv_accuracy_kept": round(float(kept.mean()) if len(kept) else 0.0, 4),
        "cv_to_people_share": round(1 - len(kept) / len(correct), 4),
        "temperature": temperature,
        "threshold": round(threshold, 4),
    }
    return temperature, threshold, cv


def _threshold(confidence: np.ndarray, correct: np.ndarray, people_share: float) -> float:
    """The lowest confidence that leaves AUTOMATIC_ACCURACY to the automatic share,
    sending at most `people_share` to people."""
    for share in np.arange(0.0, people_share + 1e-9, 0.01):
        threshold = float(np.quantile(confidence, share)) if share else 0.0
        kept = correct[confidence >= threshold]
        if len(kept) and kept.mean() >= AUTOMATIC_ACCURACY:
            return threshold
    return float(np.quantile(confidence, people_share))


def save(model: TrainedModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    joblib.dump(model, partial)
    partial.replace(path)


def load(path: Path) -> TrainedModel:
    """Load a model this installation trained (a pickle: never load one from elsewhere)."""
    model = joblib.load(path)
    if not isinstance(model, TrainedModel):
        raise TypeError(f"{path} does not hold a triage model")
    return model


def as_metadata(model: TrainedModel) -> dict[str, Any]:
    return {
        "version": model.version,
        "threshold": model.threshold,
        "temperature": model.temperature,
        "trained_at": model.trained_at.isoformat(),
        "examples": model.examples,
        "categories": model.categories,
        **model.cv,
    }


def shipped_version() -> str:
    """The version a model trained on the shipped data alone gets."""
    return _shipped_version(TRAIN_FILE.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _shipped_version(_stamp: int) -> str:
    return data_version(load_examples(TRAIN_FILE))


def cache_dir() -> Path:
    """Where the model trained on the shipped data is kept between runs."""
    configured = os.environ.get("STIK_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stik"


_loaded: dict[str, TrainedModel] = {}
_loading = threading.Lock()


def load_model(model_dir: Path | None) -> TrainedModel:
    """Return the installation's retrained model, or the one trained on shipped data.

    A retrained model built on older shipped data than this release carries is
    ignored (with a warning) until `stik triage retrain` runs again.
    """
    with _loading:
        if model_dir is not None and (model_dir / MODEL_FILE).exists():
            model = load(model_dir / MODEL_FILE)
            if model.shipped == shipped_version():
                return model
            log.warning("triage_model_outdated", version=model.version, shipped=model.shipped)
        return _baseline()


def _baseline() -> TrainedModel:
    version = shipped_version()
    if version in _loaded:
        return _loaded[version]
    path = cache_dir() / f"triage-{version}-sklearn{sklearn.__version__}.joblib"
    model = None
    if path.exists():
        try:
            model = load(path)
        except Exception as exc:  # a cache from another library version: train anew
            log.warning("triage_cache_unreadable", error=type(exc).__name__)
    if model is None:
        model = train(load_examples(TRAIN_FILE))
        try:
            save(model, path)
        except OSError as exc:
            log.warning("triage_cache_not_written", error=type(exc).__name__)
    _loaded[version] = model
    return model

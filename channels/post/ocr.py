"""Text out of a scan: the PDF's own text layer where it has one, else Tesseract OCR.

Everything here blocks (pypdf, pdftoppm, tesseract); callers run it in a thread.
"""

import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytesseract
import structlog
from PIL import Image, ImageSequence, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from channels.web.uploads import sniff

log = structlog.get_logger(__name__)

#: Scans Stik reads, by content.
SCAN_TYPES = frozenset({"application/pdf", "image/tiff", "image/png", "image/jpeg"})
LANGUAGES = "slv+eng"
DPI = 300
MAX_PAGES = 50
#: Below this share of confident words, or with fewer letters, a person must read it.
MIN_CONFIDENCE = 0.55
MIN_LETTERS = 20
#: A PDF page with fewer letters in its text layer than this is read as an image.
TEXT_LAYER_LETTERS = 25
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class ScanText:
    """What was read from a scan, how, and how sure the reading is (0 to 1)."""

    text: str
    method: str  # text_layer | ocr | none
    confidence: float
    pages: int
    problem: str | None = None

    @property
    def readable(self) -> bool:
        letters = sum(c.isalpha() for c in self.text)
        return (
            self.problem is None and letters >= MIN_LETTERS and (self.confidence >= MIN_CONFIDENCE)
        )

    def as_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "confidence": round(self.confidence, 3),
            "pages": self.pages,
            "readable": self.readable,
            "problem": self.problem,
        }


def read_scan(data: bytes) -> ScanText:
    """Read the text of a PDF, TIFF, PNG or JPEG scan; never raises for bad input."""
    content_type = sniff(data)
    try:
        if content_type == "application/pdf":
            return _read_pdf(data)
        if content_type in SCAN_TYPES:
            with Image.open(io.BytesIO(data)) as image:
                frames = [f.copy() for f in ImageSequence.Iterator(image)][:MAX_PAGES]
            return _ocr_pages(frames)
    except (
        PdfReadError,
        UnidentifiedImageError,
        OSError,
        ValueError,
        subprocess.SubprocessError,
        pytesseract.TesseractError,
        Image.DecompressionBombError,
    ) as exc:
        log.warning("scan_unreadable", error=type(exc).__name__)
        return ScanText("", "none", 0.0, 0, problem=f"{type(exc).__name__}: {exc}"[:300])
    return ScanText("", "none", 0.0, 0, problem=f"not a scan type: {content_type or 'unknown'}")


def _read_pdf(data: bytes) -> ScanText:
    reader = PdfReader(io.BytesIO(data))
    pages = len(reader.pages)
    texts = [(page.extract_text() or "").strip() for page in reader.pages[:MAX_PAGES]]
    letters = sum(c.isalpha() for t in texts for c in t)
    if pages and letters >= TEXT_LAYER_LETTERS * min(pages, MAX_PAGES):
        return ScanText("\n\n".join(texts), "text_layer", 1.0, pages)
    return _ocr_pages(_rasterise(data), pages)


def _rasterise(data: bytes) -> list[Image.Image]:
    """Render each PDF page to a grey image with poppler's pdftoppm."""
    with tempfile.TemporaryDirectory(prefix="stik-scan-") as folder:
        source = Path(folder) / "scan.pdf"
        source.write_bytes(data)
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                str(DPI),
                "-gray",
                "-png",
                "-l",
                str(MAX_PAGES),
                str(source),
                str(Path(folder) / "page"),
            ],
            check=True,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
        )
        images = []
        for path in sorted(Path(folder).glob("page*.png")):
            with Image.open(path) as page:
                images.append(page.copy())
        return images


def _ocr_pages(images: list[Image.Image], pages: int | None = None) -> ScanText:
    texts: list[str] = []
    confidences: list[float] = []
    for image in images:
        text, words = _ocr(image)
        texts.append(text)
        confidences.extend(words)
    confidence = sum(confidences) / len(confidences) if confidences else 0.0
    return ScanText("\n\n".join(t for t in texts if t), "ocr", confidence, pages or len(images))


def _ocr(image: Image.Image) -> tuple[str, list[float]]:
    """Return a page's text by lines and paragraphs, and each word's confidence (0 to 1)."""
    grey = image.convert("L")
    found = pytesseract.image_to_data(
        grey, lang=LANGUAGES, output_type=pytesseract.Output.DICT, timeout=TIMEOUT_SECONDS
    )
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences: list[float] = []
    for i, word in enumerate(found["text"]):
        confidence = float(found["conf"][i])
        if confidence < 0 or not word.strip():
            continue
        key = (found["block_num"][i], found["par_num"][i], found["line_num"][i])
        lines.setdefault(key, []).append(word)
        confidences.append(confidence / 100)

    out: list[str] = []
    previous: tuple[int, int] | None = None
    for (block, paragraph, _line), words in lines.items():
        if previous is not None and previous != (block, paragraph):
            out.append("")
        out.append(" ".join(words))
        previous = (block, paragraph)
    return "\n".join(out), confidences

"""Reading scans: real corpus pages against their ground truth, and letters we render."""

import io
import json

import pytest
from PIL import Image
from rapidfuzz import fuzz

from channels.post.letters import read_sender
from channels.post.ocr import read_scan
from tests.channels.post.render import LETTER, render_letter
from tests.conftest import corpus_path


def similarity(found: str, truth: str) -> float:
    return fuzz.ratio(" ".join(found.split()), " ".join(truth.split())) / 100


def test_clean_scan_matches_its_ground_truth() -> None:
    reading = read_scan(corpus_path("ocr", "tesseract_phototest.tif").read_bytes())
    truth = corpus_path("ocr", "tesseract_phototest.gt.txt").read_text()
    assert reading.method == "ocr"
    assert reading.readable
    assert similarity(reading.text, truth) >= 0.95


def test_image_only_fax_pdf_is_rasterised_and_read() -> None:
    reading = read_scan(corpus_path("ocr", "ocrmypdf_ccitt_fax.pdf").read_bytes())
    truth = corpus_path("ocr", "ocrmypdf_linn.gt.txt").read_text()
    assert reading.method == "ocr"
    assert reading.pages == 1
    assert similarity(reading.text, truth) >= 0.8


def test_pdf_with_a_text_layer_is_not_ocred() -> None:
    reading = read_scan(corpus_path("ocr", "invoice2data_QualityHosting.pdf").read_bytes())
    expected = json.loads(
        corpus_path("ocr", "invoice2data_QualityHosting.expected.json").read_text()
    )[0]
    assert reading.method == "text_layer"
    assert reading.pages == 2
    assert expected["invoice_number"] in reading.text
    assert "QualityHosting AG" in reading.text


@pytest.mark.parametrize(("dpi", "fmt", "angle"), [(200, "PNG", 1.5), (300, "PDF", -1.2)])
def test_rendered_slovenian_letter_keeps_its_diacritics(dpi: int, fmt: str, angle: float) -> None:
    reading = read_scan(render_letter(dpi=dpi, fmt=fmt, angle=angle))
    assert reading.readable
    for phrase in (
        "Marija Žnidaršič",
        "Šmartinska cesta 152",
        "Reklamacija računa",
        "občutno višja",
        "števec kaže",
    ):
        assert phrase in reading.text, phrase
    assert similarity(reading.text, LETTER) >= 0.95

    sender = read_sender(reading.text)
    assert (sender.name, sender.street, sender.postcode, sender.city) == (
        "Marija Žnidaršič",
        "Šmartinska cesta 152",
        "1000",
        "Ljubljana",
    )
    assert sender.metering_points == ("3-345341",)
    assert sender.customer_number == "4471203"
    assert sender.phone == "+38641555321"
    assert sender.subject == "Reklamacija računa za november"


def test_multi_page_tiff_is_read_page_by_page() -> None:
    pages = [Image.open(io.BytesIO(render_letter(dpi=200, angle=a))) for a in (0.5, -0.8)]
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:], dpi=(200, 200))
    reading = read_scan(out.getvalue())
    assert reading.pages == 2
    assert reading.text.count("Šmartinska cesta 152") == 2


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.4 broken", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"II*\x00garbage", b"MZ\x90"],
)
def test_broken_scans_are_reported_not_raised(data: bytes) -> None:
    reading = read_scan(data)
    assert not reading.readable
    assert reading.problem


def test_blank_page_is_unreadable() -> None:
    out = io.BytesIO()
    Image.new("L", (1654, 2339), 255).save(out, format="PNG")
    reading = read_scan(out.getvalue())
    assert reading.problem is None
    assert not reading.readable

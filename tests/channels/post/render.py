"""Letters rendered from text the way a scanner would deliver them: grey, tilted, at a dpi."""

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

LETTER = """Marija Žnidaršič
Šmartinska cesta 152
1000 Ljubljana
Tel.: 041 555 321

Elektro Ljubljana d.d.
Slovenska cesta 58
1516 Ljubljana

Zadeva: Reklamacija računa za november

Spoštovani,

pišem vam glede računa za električno energijo za merilno mesto 3-345341.
Obračunana poraba je občutno višja od dejanske, števec kaže 12.480 kWh.
Prosim, da račun preverite in popravite. Številka odjemalca: 4471203.

Lep pozdrav,
Marija Žnidaršič
"""


def render_letter(
    text: str = LETTER, dpi: int = 300, angle: float = 1.2, fmt: str = "PNG"
) -> bytes:
    """Return an A4 page with `text` set in 11 pt DejaVu Sans, rotated by `angle` degrees."""
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(FONT), size=int(11 / 72 * dpi))
    x, y = int(dpi * 0.9), int(dpi * 0.9)
    for line in text.splitlines():
        draw.text((x, y), line, fill=0, font=font)
        y += int(font.size * 1.45)
    tilted = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    out = io.BytesIO()
    options = {"resolution": float(dpi)} if fmt == "PDF" else {"dpi": (dpi, dpi)}
    tilted.save(out, format=fmt, **options)
    return out.getvalue()

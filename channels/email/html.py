"""Customer HTML: sanitised with nh3 for display, and turned into readable text."""

import re

import nh3
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

_CONFIG = ParserConfig(css=CSS_PROFILES["relaxed"], display_links=False)
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_TRAILING = re.compile(r"[ \t]+\n")


def sanitise_html(html: str) -> str:
    """Return `html` with scripts, handlers and dangerous URLs removed, safe to show."""
    return nh3.clean(html)


def html_to_text(html: str) -> str:
    """Return the readable text of `html`: block layout kept, markup and scripts gone."""
    if not html.strip():
        return ""
    try:
        text = get_text(_strip_dropped(html), _CONFIG)
    except Exception:  # inscriptis/lxml give up on some broken markup
        text = nh3.clean(html, tags=set())
    text = _TRAILING.sub("\n", text.replace("\xa0", " "))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _strip_dropped(html: str) -> str:
    return re.sub(
        r"<(script|style|title|template|noscript)\b.*?</\1\s*>",
        " ",
        html,
        flags=re.IGNORECASE | re.DOTALL,
    )

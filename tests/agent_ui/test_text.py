"""Customer text on agents' screens: HTML reduced to text, quoted history folded."""

from hypothesis import given
from hypothesis import strategies as st

from agent_ui.text import html_to_text, shown_text, split_quoted


def test_html_becomes_text_without_markup() -> None:
    html = (
        "<div>Pozdravljeni,</div><p>števec <b>št. 12345</b> ne dela.<br>Hvala</p>"
        "<script>alert(1)</script><style>p{}</style><!-- skrito -->"
    )
    assert html_to_text(html) == "Pozdravljeni,\n\nštevec št. 12345 ne dela.\nHvala"


def test_quoted_history_is_folded_in_the_languages_customers_write() -> None:
    for header in (
        "On Mon, 1 Dec 2026 at 10:00, Info <info@x.si> wrote:",
        "Dne 1. 12. 2026 ob 10:00 je Info <info@x.si> napisal:",
        "-----Original Message-----",
        "-----Izvirno sporočilo-----",
        "Od: Info <info@x.si>",
    ):
        shown = split_quoted(f"Hvala za odgovor.\n\n{header}\nstaro besedilo")
        assert shown.body == "Hvala za odgovor.", header
        assert shown.quoted.startswith(header.strip()) and "staro besedilo" in shown.quoted


def test_quote_marks_fold_only_at_the_end() -> None:
    inline = split_quoted("Citiram:\n> vaš stavek\nin odgovarjam spodaj.")
    trailing = split_quoted("Odgovor.\n> staro\n> še staro")
    assert inline.quoted == "" and "odgovarjam" in inline.body
    assert (trailing.body, trailing.quoted) == ("Odgovor.", "> staro\n> še staro")


def test_plain_text_wins_over_html_and_nothing_is_empty() -> None:
    assert shown_text("besedilo", "<p>html</p>").body == "besedilo"
    assert shown_text(None, "<p>html</p>").body == "html"
    assert shown_text(None, None).body == ""


@given(st.text(max_size=2000))
def test_any_html_gives_text_without_tags(markup: str) -> None:
    text = html_to_text(markup)
    assert "<script" not in text.lower() or "<script" in markup.lower().replace("&lt;", "<")


@given(st.text(max_size=2000))
def test_splitting_keeps_every_line(message: str) -> None:
    shown = split_quoted(message)
    kept = (shown.body + "\n" + shown.quoted).split()
    assert sorted(kept) == sorted(message.replace("\r\n", "\n").split())

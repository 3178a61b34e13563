"""Finding the sender's keys in a letter's text, including text that is no letter."""

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.post.letters import read_sender


def test_keys_in_a_typical_letter() -> None:
    sender = read_sender(
        "Podjetje Zupan d.o.o.\nCesta v Mestni log 88a\nSI-1000 Ljubljana\n"
        "ID za DDV: SI 15012557\nE-pošta: Racuni@Zupan.si\n\n"
        "Zadeva: Sprememba plačnika\n"
        "GSRN 383123456789012347 (ne 383123456789012346) in 3-1234567.\n"
    )
    assert (sender.name, sender.street, sender.postcode, sender.city) == (
        "Podjetje Zupan d.o.o.",
        "Cesta v Mestni log 88a",
        "1000",
        "Ljubljana",
    )
    assert sender.tax_number == "15012557"
    assert sender.email == "racuni@zupan.si"
    assert sender.subject == "Sprememba plačnika"
    assert sender.metering_points == ("3-1234567",)
    assert sender.gsrn == ("383123456789012347",)  # the other fails its check digit


def test_invalid_numbers_are_not_taken() -> None:
    sender = read_sender("Davčna številka: 12345678\nTel.: 123\n")
    assert (sender.tax_number, sender.phone) == (None, None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_sender(text: str) -> None:
    sender = read_sender(text)
    assert isinstance(sender.as_json(), dict)

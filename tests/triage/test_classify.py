"""Categories, language, urgency and robots, as a back-office agent would check them."""

import email
import email.policy
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interactions.triage import classifier as learner
from interactions.triage.language import detect_language
from interactions.triage.service import Triage, robot_reason
from interactions.triage.text import PhraseGroup, fold, words
from tests.conftest import corpus_path

DAY = date(2026, 3, 2)  # a Monday


@pytest.fixture(scope="module")
def engine() -> Triage:
    return Triage()


# Messages written for this test, none of them in the training or held-out files.
CATEGORY_CASES = [
    ("meter_reading", "Stanje", "Dober dan, stanje števca 2. 3. 2026 je VT 3021 in MT 1988."),
    ("meter_reading", "", "sporocam stanje stevca vt 4410 mt 2301, lp Janez"),
    ("meter_reading", "Meter reading", "Hi, my meter reading for this month is 23110 kWh."),
    ("billing_complaint", "Reklamacija", "Račun za februar je občutno previsok, prosim preverite."),
    (
        "billing_complaint",
        "",
        "racun je napacen, zaracunali ste porabo po oceni, zahtevam popravek",
    ),
    (
        "billing_complaint",
        "Wrong bill",
        "You charged me for an estimated reading that is far too high, I dispute this bill.",
    ),
    ("billing_question", "Vprasanje", "Kaj pomeni postavka omreznina na racunu? Lahko pojasnite?"),
    (
        "billing_question",
        "",
        "When will the annual settlement be sent and how is the advance payment calculated?",
    ),
    (
        "payment_plan",
        "Obroki",
        "Ali lahko račun plačam v štirih obrokih? Trenutno ne zmorem vsega naenkrat.",
    ),
    ("payment_plan", "", "Can I have two more weeks to pay, my salary is late."),
    (
        "debt_disconnection",
        "Opomin",
        "Prejel sem opomin, čeprav je račun plačan. Prosim, preverite.",
    ),
    ("debt_disconnection", "", "Debt paid this morning, please reconnect the electricity."),
    (
        "move_or_owner_change",
        "Selitev",
        "Konec meseca se izselim, prosim za končni obračun in odjavo.",
    ),
    ("move_or_owner_change", "", "We sold the flat, the new owner takes over from 1 May."),
    ("supplier_switch", "Menjava", "Želim zamenjati dobavitelja in preiti k vam. Kako naj začnem?"),
    ("supplier_switch", "", "I want to switch my electricity supplier to your company."),
    (
        "contract_prices",
        "Ponudba",
        "Prosim za ponudbo za elektriko in cenik paketov za gospodinjstvo.",
    ),
    ("contract_prices", "", "I want to terminate my contract, your prices went up again."),
    ("outage", "Nujno", "Od jutra nimamo elektrike v celi ulici."),
    ("outage", "", "There is no power in our building since 7 am."),
    ("connection", "Soglasje", "Potrebujem soglasje za priključitev novogradnje."),
    ("connection", "", "How do I connect my new solar panels for self-supply?"),
    ("meter_fault", "Števec", "Števec ne deluje, zaslon je prazen že tri dni."),
    ("meter_fault", "", "The meter does not switch to the night tariff."),
    ("data_change", "Naslov", "Prosim za spremembo naslova za pošiljanje računov."),
    ("data_change", "", "Please send my invoices by email from now on, I want e-invoices."),
    ("portal_access", "Portal", "Ne morem se prijaviti v portal, geslo ne deluje."),
    ("portal_access", "", "I can't sign in to the app, the password reset never arrives."),
    (
        "service_complaint",
        "Pritožba",
        "Na odgovor čakam že tri tedne, nihče se ne oglasi. Pritožujem se.",
    ),
    ("service_complaint", "", "Your agent was rude to me on the phone, I want to complain."),
    ("general_question", "Vprašanje", "Kakšen je delovni čas vaše poslovalnice v Kranju?"),
    ("general_question", "", "What are your office opening hours in Koper?"),
    ("not_for_us", "Akcija", "Samo ta teden 40 % popusta! Kliknite tukaj. Odjava od novic."),
    ("not_for_us", "", "We offer SEO services to bring your website to the top of Google."),
    # mixed language and typos
    ("meter_reading", "stanje / reading", "Hello, stanje števca je VT 1200 MT 800, thanks."),
    ("outage", "", "Hello, ni elektrike since morning, prosim pomoč."),
    ("billing_complaint", "", "Racun je prvisok, zaracunali ste prevec, prosm preverite"),
    ("portal_access", "", "ne morm se prjaviti v portal, gesl ne dela"),
]


@pytest.mark.parametrize(("category", "subject", "body"), CATEGORY_CASES)
def test_category_of_realistic_messages(engine: Triage, category, subject, body) -> None:
    assert engine.triage(subject, body, DAY).category == category


def test_no_diacritics_reads_like_diacritics(engine: Triage) -> None:
    with_marks = engine.triage("Reklamacija", "Račun je previsok, števec kaže manj.", DAY)
    without = engine.triage("Reklamacija", "Racun je previsok, stevec kaze manj.", DAY)

    assert with_marks.category == without.category == "billing_complaint"
    assert with_marks.confidence == pytest.approx(without.confidence)


@pytest.mark.parametrize(
    ("text", "language", "mixed"),
    [
        ("Pozdravljeni, pošiljam stanje števca.", "sl", False),
        ("pozdravljeni, posiljam stanje stevca, hvala", "sl", False),
        ("Hello, please find my meter reading attached.", "en", False),
        ("Pozdravljeni, pošiljam stanje števca, the meter reading is attached, hvala", "sl", True),
        ("Hello, I am sending the meter reading, prosim potrdite prejem. Hvala", "en", True),
        ("12345", "sl", False),
    ],
)
def test_language(text: str, language: str, mixed: bool) -> None:
    guess = detect_language(text)
    assert (guess.language, guess.mixed) == (language, mixed)


URGENCY_CASES = [
    # (subject, body, priority, rule that must be among the reasons)
    ("Nujno", "Nimamo elektrike, mož je na koncentratorju kisika!", 1, "no_supply_medical"),
    ("", "No electricity and my mother needs her oxygen concentrator.", 1, "no_supply_medical"),
    ("Ni elektrike", "ni elektrike ze od jutra", 1, "no_supply"),
    ("", "Iz priključne omarice iskri in se kadi.", 1, "danger"),
    ("", "Sparks are coming from the meter box, there is smoke.", 1, "danger"),
    (
        "Opozorilo pred izklopom",
        "V obvestilu piše, da nas izklopite 3. 3. 2026. Dolg sem poravnal.",
        1,
        "disconnection_imminent",
    ),
    (
        "Izklop",
        "Jutri nam boste odklopili elektriko zaradi dolga, plačal bom v petek.",
        1,
        "disconnection_imminent",
    ),
    (
        "Disconnection notice",
        "Your notice says my supply will be disconnected on 6 March 2026. I paid.",
        2,
        "disconnection_dated",
    ),
    ("Pritožba", "Ker ne odgovarjate, se bom pritožil na Agencijo za energijo.", 2, "regulator"),
    ("", "I will take this to the ombudsman if nobody answers.", 2, "regulator"),
]


@pytest.mark.parametrize(("subject", "body", "priority", "rule"), URGENCY_CASES)
def test_urgency_rules(engine: Triage, subject, body, priority, rule) -> None:
    result = engine.triage(subject, body, DAY)
    assert result.priority == priority
    assert rule in [reason["rule"] for reason in result.reasons]
    assert result.urgent is (priority == 1)


@pytest.mark.parametrize(
    ("subject", "body", "priority"),
    [
        ("Stanje", "Stanje števca: VT 1234, MT 567.", 4),
        ("Opomin", "Dobil sem opomin za izklop 30. 4. 2026, a sem plačal.", 2),  # a month away
        ("Načrtovan izklop", "Kdaj bo jutri načrtovan izklop v naši ulici?", 2),  # not a debt
        ("Newsletter", "Fire sale! 50 % off everything. Unsubscribe here.", 4),  # not for us
    ],
)
def test_no_urgency_without_cause(engine: Triage, subject: str, body: str, priority: int) -> None:
    result = engine.triage(subject, body, DAY)
    assert result.priority == priority
    assert not result.urgent


@pytest.mark.parametrize(
    ("sender", "headers", "reason"),
    [
        ("shop@example.com", {"Auto-Submitted": "auto-replied"}, "auto-submitted: auto-replied"),
        ("news@example.com", {"List-Unsubscribe": "<mailto:x@example.com>"}, "mailing list"),
        ("a@example.com", {"Precedence": "bulk"}, "precedence: bulk"),
        ("MAILER-DAEMON@example.com", {}, "robot sender address"),
        ("Shop <no-reply@shop.example>", {}, "robot sender address"),
        ("ana.novak@example.si", {"Auto-Submitted": "no"}, None),
        ("noreplyana@example.si", {}, None),
    ],
)
def test_robots_are_not_for_us(engine: Triage, sender, headers, reason) -> None:
    assert robot_reason(sender, {"headers": headers}) == reason
    result = engine.triage("Re: stanje", "Stanje števca VT 1", DAY, sender, {"headers": headers})
    assert (result.category == "not_for_us") is (reason is not None)
    if reason is not None:
        assert result.opens_ticket is False


def _corpus_labels() -> list[tuple[str, str]]:
    rows = learner.DATA.joinpath("corpus_labels.txt").read_text(encoding="utf-8").splitlines()
    return [tuple(row.split("\t")) for row in rows if row and not row.startswith("#")]


@pytest.mark.parametrize(("name", "category"), _corpus_labels())
def test_labelled_corpus_mails(engine: Triage, name: str, category: str) -> None:
    message = email.message_from_bytes(
        corpus_path("email", name).read_bytes(), policy=email.policy.default
    )
    body_part = message.get_body(("plain", "html"))
    body = body_part.get_content() if body_part is not None else ""
    headers = {key: str(value) for key, value in message.items()}

    result = engine.triage(
        str(message["subject"] or ""), body, DAY, message["from"], {"headers": headers}
    )
    assert result.category == category


def test_fast_scoring_matches_scikit_learn(engine: Triage) -> None:
    model = engine.model
    texts = ["Račun je previsok", "no power since morning", "stanje 1234", "", "€€€ 12,5"]
    expected = model.classifier.decision_function(model.features.transform(texts))
    assert np.allclose([model._scores(t) for t in texts], expected)


def test_predictions_name_the_model_and_its_threshold(engine: Triage) -> None:
    result = engine.triage("Stanje", "VT 1234 MT 567", DAY)
    assert result.model_version == engine.model.version
    assert result.model_version.startswith(learner.ALGORITHM)
    assert 0.0 < engine.model.threshold < 1.0
    assert 0.0 <= result.confidence <= 1.0


def test_unsure_contacts_go_to_people(engine: Triage) -> None:
    empty = engine.triage("", "   ", DAY)
    assert empty.needs_review and empty.queue == "triage"
    sure = engine.triage("Stanje števca", "Pošiljam stanje števca VT 1234, MT 567.", DAY)
    assert not sure.needs_review and sure.queue == "metering"


@settings(max_examples=150, deadline=None)
@given(subject=st.one_of(st.none(), st.text(max_size=80)), body=st.one_of(st.none(), st.text()))
def test_triage_never_raises(engine: Triage, subject: str | None, body: str | None) -> None:
    result = engine.triage(subject, body, DAY).as_json()
    assert 1 <= result["priority"] <= 4
    assert result["language"] in {"sl", "en"}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Že od jutra NI ELEKTRIKE.", "ni elektrike"),
        ("ni vec elektrike v hisi", "ni vec elektrike"),
        ("Nimamo elektrike", "nimamo elektrike"),
        ("brez elektriko", "brez elektriko"),
        ("elektrika ni", None),
        ("we have no power", "no power"),
        ("powerful, not no", None),
    ],
)
def test_phrases_tolerate_case_diacritics_and_inflection(text: str, found: str | None) -> None:
    group = PhraseGroup.parse(["ni elektrik*", "nimamo elektrik*", "brez elektrik*", "no power"])
    assert group.search(words(fold(text))) == found

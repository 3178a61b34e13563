"""The shipped code list of categories and the shipped urgency rules.

Migration 0004 seeds the `triage_category` and `triage_rule` tables from these
lists; from then on the tables are the configuration that administrators and
supervisors change, and these lists serve only where no database is at hand
(`stik triage classify`, the evaluation).

Phrases are folded (no diacritics, lower case); a trailing `*` marks a stem, so that
`elektrik*` covers every case of "elektrika". A rule matches when every one of its
phrase groups has a phrase in the text.
"""

from typing import Any

TRIAGE_QUEUE = "triage"

#: Where each triage queue lands in each legal entity, when the entity has no queue
#: with the triage code itself: the queue codes of the demo installation
#: (interactions/demo.py QUEUES). Written work only: a written outage report goes to
#: the DSO's back office, not to its phone line for faults.
#: Work of a ticket kind that has a queue of its own in a legal entity, whatever the
#: category's triage queue: a billing complaint is a complaint (reklamacija) first.
KIND_PLACES: dict[str, dict[str, str]] = {
    "supplier": {"complaint": "sup-complaints"},
}

QUEUE_PLACES: dict[str, dict[str, str]] = {
    "supplier": {
        "metering": "sup-back-office",
        "billing": "sup-back-office",
        "collections": "sup-back-office",
        "customer_service": "sup-back-office",
        "sales": "sup-switching",
        "faults": "sup-back-office",
        "connections": "sup-back-office",
        "complaints": "sup-complaints",
        TRIAGE_QUEUE: "sup-back-office",
    },
    "dso": {
        "metering": "dso-back-office",
        "billing": "dso-back-office",
        "collections": "dso-back-office",
        "customer_service": "dso-back-office",
        "sales": "dso-back-office",
        "faults": "dso-back-office",
        "connections": "dso-back-office",
        "complaints": "dso-back-office",
        TRIAGE_QUEUE: "dso-back-office",
    },
}

# code, Slovenian name, English name, ticket kind, queue, default priority, opens a ticket
_CATEGORIES: list[tuple[str, str, str, str, str | None, int, bool]] = [
    ("meter_reading", "Stanje števca", "Meter reading", "meter_reading", "metering", 4, True),
    (
        "billing_complaint",
        "Reklamacija računa",
        "Billing complaint",
        "complaint",
        "billing",
        3,
        True,
    ),
    ("billing_question", "Vprašanje o računu", "Billing question", "question", "billing", 3, True),
    ("payment_plan", "Obročno odplačilo, odlog", "Payment plan", "request", "collections", 3, True),
    (
        "debt_disconnection",
        "Opomini, izterjava, izklop",
        "Debt and disconnection",
        "debt_collection",
        "collections",
        2,
        True,
    ),
    (
        "move_or_owner_change",
        "Selitev, sprememba lastnika ali plačnika",
        "Move or change of owner",
        "change",
        "customer_service",
        3,
        True,
    ),
    ("supplier_switch", "Menjava dobavitelja", "Supplier switch", "request", "sales", 3, True),
    (
        "contract_prices",
        "Pogodbe, cene, ponudbe",
        "Contracts and prices",
        "request",
        "sales",
        3,
        True,
    ),
    (
        "outage",
        "Prekinitev dobave, okvare, napetost",
        "Outage or fault",
        "request",
        "faults",
        2,
        True,
    ),
    (
        "connection",
        "Priključitev, soglasja, priključna moč",
        "Connection",
        "request",
        "connections",
        3,
        True,
    ),
    ("meter_fault", "Okvara ali menjava števca", "Meter fault", "request", "metering", 3, True),
    (
        "data_change",
        "Sprememba podatkov",
        "Change of details",
        "change",
        "customer_service",
        4,
        True,
    ),
    (
        "portal_access",
        "Dostop do portala",
        "Portal access",
        "question",
        "customer_service",
        3,
        True,
    ),
    (
        "service_complaint",
        "Pritožba na storitev",
        "Service complaint",
        "complaint",
        "complaints",
        2,
        True,
    ),
    (
        "general_question",
        "Splošno vprašanje",
        "General question",
        "question",
        "customer_service",
        4,
        True,
    ),
    (
        "not_for_us",
        "Ni za nas (oglasi, roboti)",
        "Not for us (spam, robots)",
        "question",
        None,
        4,
        False,
    ),
]

CATEGORIES: list[dict[str, Any]] = [
    {
        "code": code,
        "name_sl": name_sl,
        "name_en": name_en,
        "ticket_kind": kind,
        "queue_code": queue,
        "priority": priority,
        "opens_ticket": opens_ticket,
        "active": True,
        "position": position,
    }
    for position, (code, name_sl, name_en, kind, queue, priority, opens_ticket) in enumerate(
        _CATEGORIES
    )
]

NO_SUPPLY = [
    "ni elektrik*",
    "nimamo elektrik*",
    "nimam elektrik*",
    "brez elektrik*",
    "ni tok*",
    "nimamo tok*",
    "nimam tok*",
    "brez tok*",
    "ni napetost*",
    "brez napetost*",
    "izpad elektrik*",
    "izpad tok*",
    "izpad napetost*",
    "v temi",
    "no power",
    "without power",
    "no electricity",
    "without electricity",
    "power cut",
    "power outage",
    "power is out",
    "blackout",
]

DANGER = [
    "iskri*",
    "isker",
    "iskrenj*",
    "pozar*",
    "ogenj",
    "gori",
    "kadi",
    "dim",
    "zazgan*",
    "elektricni udar",
    "udar tok*",
    "zic* visi",
    "kabel na tleh",
    "padel kabel",
    "nevarn*",
    "spark*",
    "fire",
    "smoke",
    "burning",
    "electric shock",
    "live wire",
    "fallen cable",
    "cable fell",
    "dangerous",
]

MEDICAL = [
    "kisik*",
    "koncentrator*",
    "dializ*",
    "respirator*",
    "ventilator*",
    "aparat za dihanje",
    "medicinsk* naprav*",
    "oxygen",
    "dialysis",
    "medical device",
    "life support",
    "home ventilator",
]

DISCONNECTION = [
    "izklop*",
    "odklop*",
    "izklopi*",
    "odklopi*",
    "ustavitev dobave",
    "ustavitvijo dobave",
    "ustavil* dobav*",
    "prekinitev dobave",
    "disconnect*",
    "cut off",
    "suspend*",
    "suspension",
]

REGULATOR = [
    "agencij* za energijo",
    "agen",
    "regulator*",
    "varuh*",
    "ombudsman*",
    "zvez* potrosnik*",
    "trzn* inspektorat*",
    "inspektorat*",
    "odvetnik*",
    "tozb*",
    "sodisc*",
    "lawyer",
    "court",
    "consumer association",
]

RULES: list[dict[str, Any]] = [
    {
        "code": "danger",
        "kind": "text",
        "description": "Danger to people or property: sparks, fire, smoke, a fallen line",
        "phrases": [DANGER],
        "categories": [],
        "within_days": None,
        "priority": 1,
    },
    {
        "code": "no_supply_medical",
        "kind": "text",
        "description": "No supply where someone depends on a medical device",
        "phrases": [NO_SUPPLY, MEDICAL],
        "categories": [],
        "within_days": None,
        "priority": 1,
    },
    {
        "code": "no_supply",
        "kind": "text",
        "description": "No supply: the customer is without electricity",
        "phrases": [NO_SUPPLY],
        "categories": [],
        "within_days": None,
        "priority": 1,
    },
    {
        "code": "disconnection_imminent",
        "kind": "deadline",
        "description": "A disconnection dated within two days of the contact",
        "phrases": [DISCONNECTION],
        "categories": ["debt_disconnection", "payment_plan", "billing_complaint"],
        "within_days": 2,
        "priority": 1,
    },
    {
        "code": "disconnection_dated",
        "kind": "deadline",
        "description": "A disconnection dated within a week of the contact",
        "phrases": [DISCONNECTION],
        "categories": ["debt_disconnection", "payment_plan", "billing_complaint"],
        "within_days": 7,
        "priority": 2,
    },
    {
        "code": "regulator",
        "kind": "text",
        "description": "The regulator, an ombudsman, a court or a lawyer is mentioned",
        "phrases": [REGULATOR],
        "categories": [],
        "within_days": None,
        "priority": 2,
    },
    {
        "code": "repeat_contact",
        "kind": "repeat",
        "description": "The customer writes again about a ticket that is still open",
        "phrases": [],
        "categories": [],
        "within_days": None,
        "priority": 2,
    },
    {
        "code": "vulnerable_outage",
        "kind": "vulnerable",
        "description": "A vulnerable customer reports an outage",
        "phrases": [],
        "categories": ["outage", "debt_disconnection"],
        "within_days": None,
        "priority": 1,
    },
    {
        "code": "vulnerable",
        "kind": "vulnerable",
        "description": "The partner is flagged as a vulnerable customer",
        "phrases": [],
        "categories": [],
        "within_days": None,
        "priority": 2,
    },
]

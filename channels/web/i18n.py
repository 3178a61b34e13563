"""The form's words in Slovenian and English, and the choice of language per request."""

from aiohttp import web

LANGUAGES = ("sl", "en")
DEFAULT_LANGUAGE = "sl"
LANGUAGE_COOKIE = "stik_lang"

TEXTS: dict[str, dict[str, str]] = {
    # Page furniture
    "title": {"sl": "Pišite nam", "en": "Write to us"},
    "choose": {"sl": "Kaj želite sporočiti?", "en": "What would you like to send us?"},
    "switch": {"sl": "English", "en": "Slovenščina"},
    "send": {"sl": "Pošlji", "en": "Send"},
    "back": {"sl": "Nazaj na izbiro obrazca", "en": "Back to the choice of forms"},
    "required": {"sl": "obvezno", "en": "required"},
    "optional": {"sl": "neobvezno", "en": "optional"},
    "errors_title": {
        "sl": "Obrazca nismo mogli sprejeti. Popravite označena polja:",
        "en": "We could not accept the form. Please correct the marked fields:",
    },
    "thanks_title": {"sl": "Hvala, sporočilo smo prejeli", "en": "Thank you, we have it"},
    "thanks_ticket": {"sl": "Številka vaše zadeve je", "en": "Your case number is"},
    "thanks_email": {
        "sl": "Potrdilo s številko zadeve smo poslali na {email}.",
        "en": "We have sent a confirmation with the case number to {email}.",
    },
    "files_again": {
        "sl": "Če ste dodali priponke, jih izberite znova.",
        "en": "If you attached files, please choose them again.",
    },
    "honeypot_label": {"sl": "Tega polja ne izpolnjujte", "en": "Leave this field empty"},
    # Form kinds
    "kind_complaint": {"sl": "Reklamacija ali pritožba", "en": "Complaint"},
    "kind_meter_reading": {"sl": "Sporočilo stanja števca", "en": "Meter reading"},
    "kind_question": {"sl": "Vprašanje", "en": "Question"},
    "kind_change": {"sl": "Sprememba podatkov", "en": "Change of details"},
    "kind_callback": {"sl": "Prosim, pokličite me", "en": "Please call me back"},
    # Field labels
    "field_name": {"sl": "Ime in priimek ali naziv", "en": "Name or company name"},
    "field_email": {"sl": "E-pošta", "en": "Email"},
    "field_phone": {"sl": "Telefon", "en": "Phone"},
    "field_metering_point": {
        "sl": "Številka merilnega mesta (npr. 3-345341)",
        "en": "Metering point number (e.g. 3-345341)",
    },
    "field_customer_number": {"sl": "Številka odjemalca", "en": "Customer number"},
    "field_message": {"sl": "Sporočilo", "en": "Message"},
    "field_reading_date": {"sl": "Datum odčitka", "en": "Date of the reading"},
    "field_reading_vt": {"sl": "Stanje VT (višja tarifa), kWh", "en": "VT (high tariff), kWh"},
    "field_reading_mt": {"sl": "Stanje MT (nižja tarifa), kWh", "en": "MT (low tariff), kWh"},
    "field_reading_et": {"sl": "Stanje ET (enotna tarifa), kWh", "en": "ET (single tariff), kWh"},
    "field_change_type": {"sl": "Kaj želite spremeniti?", "en": "What would you like to change?"},
    "field_iban": {"sl": "Nov TRR (IBAN)", "en": "New bank account (IBAN)"},
    "field_callback_time": {"sl": "Kdaj vas pokličemo?", "en": "When shall we call?"},
    "field_attachments": {
        "sl": "Priponke (PDF, JPEG, PNG; do 5 datotek, skupaj do 10 MB)",
        "en": "Attachments (PDF, JPEG, PNG; up to 5 files, 10 MB together)",
    },
    "change_address": {"sl": "Naslov", "en": "Address"},
    "change_payer": {"sl": "Plačnik", "en": "Payer"},
    "change_bank_account": {"sl": "Bančni račun", "en": "Bank account"},
    "change_e_invoice": {"sl": "E-račun", "en": "E-invoice"},
    "callback_morning": {"sl": "Dopoldne", "en": "Morning"},
    "callback_afternoon": {"sl": "Popoldne", "en": "Afternoon"},
    "callback_any": {"sl": "Kadarkoli", "en": "Any time"},
    "readings_hint": {
        "sl": "Vpišite VT in MT ali samo ET, v celih kWh (decimalka z vejico je dovoljena).",
        "en": "Enter VT and MT, or ET only, in whole kWh (a decimal comma is accepted).",
    },
    # Problems, one per code
    "err_required": {"sl": "To polje je obvezno.", "en": "This field is required."},
    "err_too_long": {"sl": "Besedilo je predolgo.", "en": "The text is too long."},
    "err_invalid_name": {
        "sl": "Vpišite ime z vsaj eno črko, brez kontrolnih znakov.",
        "en": "Enter a name with at least one letter and no control characters.",
    },
    "err_invalid_email": {
        "sl": "To ni veljaven e-poštni naslov (npr. ime@primer.si).",
        "en": "This is not a valid email address (e.g. name@example.com).",
    },
    "err_invalid_phone": {
        "sl": "To ni veljavna telefonska številka (npr. 041 123 456).",
        "en": "This is not a valid phone number (e.g. +386 41 123 456).",
    },
    "err_invalid_metering_point": {
        "sl": "Številka merilnega mesta ima obliko 3-345341 (ali 18 števk GSRN).",
        "en": "A metering point number looks like 3-345341 (or an 18-digit GSRN).",
    },
    "err_metering_point_check_digit": {
        "sl": "Kontrolna števka 18-mestne številke merilnega mesta ni pravilna. Preverite jo.",
        "en": "The check digit of the 18-digit metering point number is wrong. Please check it.",
    },
    "err_invalid_customer_number": {
        "sl": "Številka odjemalca ima od 4 do 20 števk ali črk.",
        "en": "A customer number has 4 to 20 digits or letters.",
    },
    "err_invalid_reading": {
        "sl": "Vpišite stanje v kWh, npr. 12345 ali 12345,6 (brez pik za tisočice).",
        "en": "Enter the reading in kWh, e.g. 12345 or 12345.6 (no thousands separators).",
    },
    "err_reading_missing": {
        "sl": "Vpišite stanji VT in MT ali stanje ET.",
        "en": "Enter the VT and MT readings, or the ET reading.",
    },
    "err_reading_mixed": {
        "sl": "Vpišite bodisi VT in MT bodisi samo ET, ne vseh treh.",
        "en": "Enter either VT and MT, or ET only, not all three.",
    },
    "err_invalid_date": {
        "sl": "Vpišite datum v obliki 31. 12. 2026 ali 2026-12-31.",
        "en": "Enter the date as 2026-12-31 or 31.12.2026.",
    },
    "err_date_in_future": {
        "sl": "Datum odčitka ne more biti v prihodnosti.",
        "en": "The reading cannot be dated in the future.",
    },
    "err_date_too_old": {
        "sl": "Odčitek je starejši od 60 dni; prosimo, sporočite novega.",
        "en": "The reading is older than 60 days; please send a current one.",
    },
    "err_invalid_iban": {
        "sl": "To ni veljaven IBAN (npr. SI56 0110 0100 0123 456).",
        "en": "This is not a valid IBAN (e.g. SI56 0110 0100 0123 456).",
    },
    "err_invalid_choice": {"sl": "Izberite eno od možnosti.", "en": "Choose one of the options."},
    "err_file_type": {
        "sl": "Datoteka {file} ni PDF, JPEG ali PNG (preverili smo vsebino, ne imena).",
        "en": "The file {file} is not a PDF, JPEG or PNG (we checked its content, not its name).",
    },
    "err_file_too_large": {
        "sl": "Datoteka {file} je večja od {limit} MB.",
        "en": "The file {file} is larger than {limit} MB.",
    },
    "err_files_too_large": {
        "sl": "Priponke so skupaj večje od {limit} MB.",
        "en": "The attachments together are larger than {limit} MB.",
    },
    "err_too_many_files": {
        "sl": "Dodate lahko največ {limit} datotek.",
        "en": "You can attach at most {limit} files.",
    },
    "err_csrf": {
        "sl": "Obrazec je potekel ali ni bil poslan s te strani. Pošljite ga znova.",
        "en": "The form expired or was not sent from this page. Please send it again.",
    },
    "err_honeypot": {
        "sl": "Polje »Tega polja ne izpolnjujte« mora ostati prazno.",
        "en": "The field 'Leave this field empty' must stay empty.",
    },
    "err_rate_limited": {
        "sl": "Prejeli smo preveč obrazcev v kratkem času. Poskusite znova čez nekaj minut.",
        "en": "We received too many forms in a short time. Please try again in a few minutes.",
    },
    "err_request_too_large": {
        "sl": "Poslano je večje od {limit} MB. Pošljite manjše priponke.",
        "en": "What you sent is larger than {limit} MB. Please attach smaller files.",
    },
    "err_unsupported_media_type": {
        "sl": "Pošljite JSON (Content-Type: application/json).",
        "en": "Send JSON (Content-Type: application/json).",
    },
    "err_invalid_json": {
        "sl": "Telo zahteve ni JSON-objekt.",
        "en": "The request body is not a JSON object.",
    },
    "err_unavailable": {
        "sl": "Obrazca trenutno ne moremo shraniti. Poskusite znova čez nekaj minut.",
        "en": "We cannot store the form right now. Please try again in a few minutes.",
    },
}


def text(key: str, language: str, **values: object) -> str:
    """Return the words for `key` in `language`, with `values` filled in."""
    words = TEXTS[key].get(language) or TEXTS[key][DEFAULT_LANGUAGE]
    return words.format(**values) if values else words


def pick_language(request: web.Request) -> str:
    """Choose the language: ?lang=, then the cookie, then the browser's Accept-Language."""
    asked = request.query.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if asked in LANGUAGES:
        return asked
    return from_accept_language(request.headers.get("Accept-Language", ""))


def from_accept_language(header: str) -> str:
    """Return the supported language the browser prefers most, or the default."""
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for order, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if q - order * 1e-6 > best_q:
            best, best_q = primary, q - order * 1e-6
    return best

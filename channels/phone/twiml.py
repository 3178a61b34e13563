"""What callers hear: TwiML built with twilio's VoiceResponse, in Slovenian or English.

Routes of the webhooks are fixed here, so that every answer names the same URLs that
`channels.phone.views` serves and that `stik call` follows.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from twilio.twiml.voice_response import Dial, Enqueue, VoiceResponse

VOICE = "/phone/twilio/voice"
STATUS = "/phone/twilio/status"
WAIT = "/phone/twilio/wait"
QUEUE_RESULT = "/phone/twilio/queue-result"
VOICEMAIL = "/phone/twilio/voicemail"
RECORDING = "/phone/twilio/recording"
TRANSCRIPTION = "/phone/twilio/transcription"

#: The language attribute of <Say> for each language Stik greets in.
SAY_LANGUAGE = {"sl": "sl-SI", "en": "en-GB"}
VOICEMAIL_MAX_SECONDS = 120
ZONE = ZoneInfo("Europe/Ljubljana")

TEXTS = {
    "sl": {
        "greeting": (
            "Pozdravljeni, poklicali ste {brand}. Vaš klic bo sprejel prvi prosti svetovalec."
        ),
        "position": "Ste {position}. v vrsti. Predviden čas čakanja je približno {minutes} min.",
        "closed": (
            "Klicni center {brand} je trenutno zaprt. Ponovno smo dosegljivi {when}. "
            "Po pisku pustite sporočilo s svojim imenom in telefonsko številko."
        ),
        "closed_unknown": (
            "Klicni center {brand} je trenutno zaprt. "
            "Po pisku pustite sporočilo s svojim imenom in telefonsko številko."
        ),
        "busy": (
            "Vsi svetovalci so zasedeni. Po pisku pustite sporočilo, poklicali vas bomo nazaj."
        ),
        "thanks": "Hvala, vaše sporočilo smo shranili. Nasvidenje.",
        "when": "{day}. {month}. ob {time}",
    },
    "en": {
        "greeting": "Welcome to {brand}. Your call will be answered by the next free adviser.",
        "position": "You are number {position} in the queue. The expected wait is about "
        "{minutes} minutes.",
        "closed": (
            "The {brand} call centre is closed now. We are back {when}. "
            "Please leave your name and phone number after the tone."
        ),
        "closed_unknown": (
            "The {brand} call centre is closed now. "
            "Please leave your name and phone number after the tone."
        ),
        "busy": (
            "All our advisers are busy. Please leave a message after the tone and we will "
            "call you back."
        ),
        "thanks": "Thank you, your message has been recorded. Goodbye.",
        "when": "on {day} {month_name} at {time}",
    },
}
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _text(language: str, key: str, **values: object) -> str:
    return TEXTS.get(language, TEXTS["sl"])[key].format(**values)


def _say(response: VoiceResponse, language: str, text: str) -> None:
    response.say(text, language=SAY_LANGUAGE.get(language, "sl-SI"))


def when(moment: datetime, language: str) -> str:
    """A caller's way of saying when the line opens again, in Ljubljana time."""
    local = moment.astimezone(ZONE)
    return _text(
        language,
        "when",
        day=local.day,
        month=local.month,
        month_name=MONTHS_EN[local.month - 1],
        time=local.strftime("%H:%M"),
    )


def enqueue(language: str, brand: str, queue_name: str) -> str:
    """Greet the caller and put them in the line, with our wait and result URLs."""
    response = VoiceResponse()
    _say(response, language, _text(language, "greeting", brand=brand))
    line = Enqueue(action=QUEUE_RESULT, method="POST", wait_url=WAIT, wait_url_method="POST")
    line.value = queue_name
    response.append(line)
    return str(response)


def hold(
    language: str,
    position: int | None,
    minutes: int | None,
    announce: bool,
    music_url: str,
    pause_seconds: int,
) -> str:
    """What plays while waiting: the position now and then, then music or a short pause."""
    response = VoiceResponse()
    if announce and position:
        _say(
            response,
            language,
            _text(language, "position", position=position, minutes=max(1, minutes or 1)),
        )
    if music_url:
        response.play(music_url)
    else:
        response.pause(length=pause_seconds)
    return str(response)


def leave() -> str:
    """Take the caller out of the line: to their agent, or to voicemail (see QUEUE_RESULT)."""
    response = VoiceResponse()
    response.leave()
    return str(response)


def connect(endpoint: str, caller_id: str | None = None) -> str:
    """Put the caller through to the agent who took the call."""
    response = VoiceResponse()
    dial = Dial(caller_id=caller_id) if caller_id else Dial()
    if endpoint.startswith("client:"):
        dial.client(endpoint.removeprefix("client:"))
    elif endpoint.startswith("sip:"):
        dial.sip(endpoint)
    else:
        dial.number(endpoint)
    response.append(dial)
    return str(response)


def voicemail(language: str, brand: str, reason: str, reopens: datetime | None = None) -> str:
    """Ask for a message: the line is closed (`closed`) or nobody could take it (`busy`)."""
    response = VoiceResponse()
    if reason == "closed":
        text = (
            _text(language, "closed", brand=brand, when=when(reopens, language))
            if reopens
            else _text(language, "closed_unknown", brand=brand)
        )
    else:
        text = _text(language, "busy")
    _say(response, language, text)
    response.record(
        action=VOICEMAIL,
        method="POST",
        max_length=VOICEMAIL_MAX_SECONDS,
        play_beep=True,
        transcribe=True,
        transcribe_callback=TRANSCRIPTION,
        recording_status_callback=RECORDING,
        recording_status_callback_method="POST",
    )
    response.hangup()
    return str(response)


def thanks(language: str) -> str:
    response = VoiceResponse()
    _say(response, language, _text(language, "thanks"))
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())

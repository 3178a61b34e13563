"""Faxes: the provider's signed webhook and mail from fax-to-email gateways."""

from aiohttp import web

from channels.fax.views import FAX_WEBHOOK, FaxWebhook, receive_fax


def setup(app: web.Application) -> None:
    """Register the webhook; without a configured secret it refuses every call."""
    from stik.app import SETTINGS, STORE

    config = app[SETTINGS].extra.get("fax", {})
    secret = str(config.get("webhook_secret", "")).encode()
    app[FAX_WEBHOOK] = FaxWebhook(app[STORE], secret)
    app.router.add_post("/fax/webhook", receive_fax)


def gateway_addresses(extra: dict[str, object]) -> frozenset[str]:
    """The configured gateway senders (`[fax] gateways = [...]`), lower-cased."""
    config = extra.get("fax", {})
    listed = config.get("gateways", []) if isinstance(config, dict) else []
    return frozenset(str(a).strip().lower() for a in listed)

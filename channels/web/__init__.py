"""The customer web form (Slovenian and English) and its JSON endpoint."""

from aiohttp import web

from channels.web.security import CsrfSigner, RateLimit, RateLimiter, load_secret
from channels.web.views import (
    WEB_FORM,
    WebForm,
    choose,
    openapi,
    post_form,
    post_json,
    show_form,
    templates,
)

DEFAULTS = {"rate_per_address": 30, "rate_per_email": 10, "rate_window_seconds": 600}


def setup(app: web.Application) -> None:
    """Register the form's pages, the JSON endpoint and its OpenAPI description."""
    from channels.email import OUTGOING
    from stik.app import SETTINGS, STORE

    settings = app[SETTINGS]
    config = {**DEFAULTS, **settings.extra.get("web", {})}
    secret = load_secret(config.get("secret"), settings.data_dir)
    window = int(config["rate_window_seconds"])
    app[WEB_FORM] = WebForm(
        store=app[STORE],
        signer=CsrfSigner(secret),
        limiter=RateLimiter(app[STORE], secret),
        per_address=RateLimit(int(config["rate_per_address"]), window),
        per_email=RateLimit(int(config["rate_per_email"]), window),
        outbox=settings.data_dir / "outbox",
        templates=templates(),
        mail=app.get(OUTGOING),
    )
    app.router.add_get("/form", choose)
    app.router.add_get("/form/{kind}", show_form)
    app.router.add_post("/form/{kind}", post_form)
    app.router.add_post("/api/v1/web-forms", post_json)
    app.router.add_get("/api/openapi.yaml", openapi)

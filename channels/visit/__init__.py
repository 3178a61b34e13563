"""Walk-in visits registered by the info office, into the same timeline as every channel."""

from aiohttp import web

from channels.visit.views import post_visit, search, show_visit


def setup(app: web.Application) -> None:
    """Register the info-office page (it uses the web form's CSRF signer)."""
    app.router.add_get("/visit", search)
    app.router.add_get("/visit/{partner_id}", show_visit)
    app.router.add_post("/visit/{partner_id}", post_visit)

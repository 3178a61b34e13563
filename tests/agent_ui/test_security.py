"""Security of the workspace: sign-in, sessions, CSRF, roles, unbundling, XSS, audit."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from agent_ui.models import LoginFailure, TicketEvent, WebSession
from agent_ui.sessions import COOKIE
from interactions.models import (
    Activity,
    ActivityState,
    AuditEntry,
    Blob,
    Channel,
    Direction,
    Document,
    Partner,
    Ticket,
)
from tests.agent_ui.conftest import Web
from tests.agent_ui.factories import PASSWORD, csrf_from, sign_in

ID_ROUTES_COVERED = {
    "/tickets/{id}",
    "/tickets/{id}/notes",
    "/tickets/{id}/fields",
    "/tickets/{id}/take",
    "/tickets/{id}/close",
    "/tickets/{id}/merge",
    "/tickets/{id}/link",
    "/tickets/{id}/link-search",
    "/tickets/{id}/reply-template",
    "/tickets/{id}/reply",
    "/queues/{id}",
    "/documents/{id}",
    "/activities/{id}/wrap-up",
    "/partners/{id}",
    "/api/partners/{id}/view",
}


def workspace_routes(client: Any) -> list[Any]:
    """The routes the workspace added (other packages' webhooks guard themselves)."""
    return [
        r
        for r in client.app.router.routes()
        if r.resource is not None
        and getattr(r.handler, "__module__", "").startswith(("agent_ui", "customer_view"))
    ]


async def count_notes(web: Web, ticket_id: int) -> int:
    async with web.store.sessions() as db:
        return (
            await db.scalar(
                select(func.count())
                .select_from(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id)
            )
            or 0
        )


async def test_pages_need_sign_in(web: Web) -> None:
    client = await web.client()
    page = await client.get("/", allow_redirects=False)
    api = await client.get(f"/api/partners/{web.world.partner_id}/view")
    htmx = await client.get("/fragments/my-tickets", headers={"HX-Request": "true"})
    post = await client.post(
        f"/tickets/{web.world.supplier_ticket}/notes", data={"text": "x"}, allow_redirects=False
    )

    assert page.status == 302 and page.headers["Location"] == "/login"
    assert api.status == 401
    assert htmx.status == 401 and htmx.headers["HX-Redirect"] == "/login"
    assert post.status == 302
    assert await count_notes(web, web.world.supplier_ticket) == 0


async def test_state_changes_need_the_csrf_token(web: Web) -> None:
    client, token = await web.signed_in("ana")
    url = f"/tickets/{web.world.supplier_ticket}/notes"

    missing = await client.post(url, data={"text": "no token"})
    wrong = await client.post(url, data={"text": "wrong", "csrf_token": token[:-2] + "xx"})
    foreign = await client.post(
        url,
        data={"text": "other site", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    header = await client.post(url, data={"text": "by header"}, headers={"X-CSRF-Token": token})

    assert (missing.status, wrong.status, foreign.status) == (403, 403, 403)
    assert header.status == 200  # followed the redirect to the ticket page
    assert await count_notes(web, web.world.supplier_ticket) == 1


async def test_every_post_route_checks_csrf(web: Web) -> None:
    client, _token = await web.signed_in("adam")
    posts = [
        r.resource.canonical
        for r in workspace_routes(client)
        if r.method == "POST" and r.resource.canonical != "/login"
    ]
    assert len(posts) >= 12
    for route in posts:
        url = route.replace("{id}", str(web.world.supplier_ticket))
        response = await client.post(url, data={"state": "available"}, allow_redirects=False)
        assert response.status == 403, route

    login = await (await web.client()).post("/login", data={"login": "ana", "password": PASSWORD})
    assert login.status == 403


async def test_sign_in_replaces_the_session(web: Web) -> None:
    client = await web.client()
    await client.get("/login")
    planted = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value

    await sign_in(client, "ana")
    fresh = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value

    attacker = await web.client()
    attacker.session.cookie_jar.update_cookies({COOKIE: planted})
    with_planted = await attacker.get("/", allow_redirects=False)
    assert fresh != planted
    assert with_planted.status == 302


async def test_sign_out_ends_the_session_everywhere(web: Web) -> None:
    client, token = await web.signed_in("ana")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value

    await client.post("/logout", data={"csrf_token": token})
    replay = await web.client()
    replay.session.cookie_jar.update_cookies({COOKIE: cookie})

    assert (await replay.get("/", allow_redirects=False)).status == 302


async def test_sessions_expire(web: Web) -> None:
    client, _token = await web.signed_in("ana")
    assert (await client.get("/", allow_redirects=False)).status == 200

    async with web.store.sessions() as db, db.begin():
        await db.execute(
            update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_failed_sign_ins_are_held_off(web: Web) -> None:
    client = await web.client()
    token = csrf_from(await (await client.get("/login")).text())
    for _ in range(5):
        wrong = await client.post(
            "/login", data={"login": "ana", "password": "guess", "csrf_token": token}
        )
        assert wrong.status == 401
    right = await client.post(
        "/login", data={"login": "ana", "password": PASSWORD, "csrf_token": token}
    )

    assert right.status == 429
    async with web.store.sessions() as db:
        failures = await db.scalar(select(func.count()).select_from(LoginFailure))
    assert failures == 5
    other, _ = await web.signed_in("bor")  # another login from the same place still works
    assert (await other.get("/", allow_redirects=False)).status == 200


async def test_unknown_login_and_wrong_password_look_the_same(web: Web) -> None:
    client = await web.client()
    token = csrf_from(await (await client.get("/login")).text())
    unknown = await client.post(
        "/login", data={"login": "nobody", "password": "x" * 12, "csrf_token": token}
    )
    wrong = await client.post(
        "/login", data={"login": "ana", "password": "x" * 12, "csrf_token": token}
    )
    assert unknown.status == wrong.status == 401
    assert "Napačno uporabniško ime ali geslo" in await unknown.text()


ROLE_MATRIX = [
    # (method, path, {login: expected status})
    ("GET", "/", {"ana": 200, "sara": 200, "adam": 200, "dan": 200}),
    ("GET", "/team", {"ana": 403, "sara": 200, "adam": 200, "dan": 403}),
    ("GET", "/admin/users", {"ana": 403, "sara": 403, "adam": 200, "dan": 403}),
    ("GET", "/tickets/{supplier}", {"ana": 200, "sara": 200, "adam": 200, "dan": 403}),
    ("GET", "/tickets/{dso}", {"ana": 403, "sara": 403, "adam": 403, "dan": 200}),
    ("GET", "/queues/{dso_queue}", {"ana": 403, "sara": 403, "adam": 403, "dan": 200}),
    ("POST", "/admin/users", {"ana": 403, "sara": 403, "adam": 303, "dan": 403}),
    ("ASSIGN", "bor", {"ana": 403, "sara": 303, "adam": 303, "dan": 403}),
]


@pytest.mark.parametrize(("method", "path", "expected"), ROLE_MATRIX)
async def test_role_matrix(web: Web, method: str, path: str, expected: dict[str, int]) -> None:
    w = web.world
    for login, status in expected.items():
        client, token = await web.signed_in(login)
        url = path.format(supplier=w.supplier_ticket, dso=w.dso_ticket, dso_queue=w.dso_queue_id)
        if method == "GET":
            response = await client.get(url, allow_redirects=False)
        elif method == "ASSIGN":
            response = await client.post(
                f"/tickets/{w.supplier_ticket}/fields",
                data={"assignee_id": str(web.ids[path]), "csrf_token": token},
                allow_redirects=False,
            )
        else:
            response = await client.post(
                url,
                data={
                    "login": f"new-{login}",
                    "password": "a long password",
                    "role": "agent",
                    "org_unit": "call_centre",
                    "csrf_token": token,
                },
                allow_redirects=False,
            )
        assert response.status == status, (login, method, path)


async def dso_document_and_call(web: Web) -> tuple[int, int]:
    """A DSO letter with a scan, and a DSO call, for the same customer."""
    now = datetime.now(UTC)
    async with web.store.sessions() as db, db.begin():
        db.add(Blob(sha256="a" * 64, size=3, data=b"PDF"))
        letter = Activity(
            channel=Channel.POST,
            external_id="scan-1",
            occurred_at=now,
            legal_entity="dso",
            partner_id=web.world.partner_id,
            state=ActivityState.PROCESSED,
            ticket_id=web.world.dso_ticket,
            match_reasons=[],
            match_candidates=[],
            meta={},
        )
        call = Activity(
            channel=Channel.PHONE,
            external_id="call-1",
            occurred_at=now,
            legal_entity="dso",
            partner_id=web.world.partner_id,
            state=ActivityState.PROCESSED,
            match_reasons=[],
            match_candidates=[],
            meta={},
        )
        db.add_all([letter, call])
        await db.flush()
        document = Document(sha256="a" * 64, size=3, filename="pismo.pdf", activity_id=letter.id)
        db.add(document)
        await db.flush()
        return document.id, call.id


async def test_supplier_agent_cannot_reach_dso_work_by_id(web: Web) -> None:
    """IDOR: every {id} route refuses another legal entity's object, and 404s a missing one."""
    document_id, call_id = await dso_document_and_call(web)
    client, token = await web.signed_in("ana")
    dso, w = web.world.dso_ticket, web.world
    form = {
        "csrf_token": token,
        "text": "x",
        "category": "billing_question",
        "resolution": "solved",
        "other": w.supplier_ticket_number,
        "partner_id": str(w.partner_id),
        "to": "a@b.si",
        "body": "x",
        "outcome": "resolved",
    }
    cases = {
        "/tickets/{id}": ("GET", dso),
        "/tickets/{id}/notes": ("POST", dso),
        "/tickets/{id}/fields": ("POST", dso),
        "/tickets/{id}/take": ("POST", dso),
        "/tickets/{id}/close": ("POST", dso),
        "/tickets/{id}/merge": ("POST", dso),
        "/tickets/{id}/link": ("POST", dso),
        "/tickets/{id}/link-search": ("GET", dso),
        "/tickets/{id}/reply-template": ("GET", dso),
        "/tickets/{id}/reply": ("POST", dso),
        "/queues/{id}": ("GET", w.dso_queue_id),
        "/documents/{id}": ("GET", document_id),
        "/activities/{id}/wrap-up": ("POST", call_id),
    }
    routes = {r.resource.canonical for r in workspace_routes(client)}
    assert {r for r in routes if "{" in r} == ID_ROUTES_COVERED

    for route, (method, object_id) in cases.items():
        url = route.replace("{id}", str(object_id))
        response = await client.request(
            method, url, data=form if method == "POST" else None, allow_redirects=False
        )
        assert response.status == 403, route
        missing = await client.request(
            method,
            route.replace("{id}", "987654321"),
            data=form if method == "POST" else None,
            allow_redirects=False,
        )
        assert missing.status in (400, 404), route

    async with web.store.sessions() as db:
        ticket = await db.get_one(Ticket, dso)
    assert (ticket.status, ticket.assignee_id, ticket.category) == ("new", None, None)
    assert await count_notes(web, dso) == 0


async def test_partner_master_data_is_shared_but_work_is_not(web: Web) -> None:
    supplier, _ = await web.signed_in("ana")
    dso, _ = await web.signed_in("dan")
    url = f"/api/partners/{web.world.partner_id}/view"

    seen_by_supplier = await (await supplier.get(url)).json()
    seen_by_dso = await (await dso.get(url)).json()

    def numbers(view: dict) -> set[str]:
        return {t["number"] for t in view["tickets"]["open"] + view["tickets"]["recent"]}

    assert seen_by_supplier["partner"] == seen_by_dso["partner"]
    assert numbers(seen_by_supplier) == {web.world.supplier_ticket_number}
    assert web.world.supplier_ticket_number not in numbers(seen_by_dso)
    assert [o["product"] for o in seen_by_supplier["offers"]] == ["Fiksna"]
    assert seen_by_dso["offers"] == [] and seen_by_dso["opportunities"] == []
    assert [c["number"] for c in seen_by_supplier["contracts"]] == ["S-1"]
    assert [c["number"] for c in seen_by_dso["contracts"]] == ["D-1"]
    assert seen_by_supplier["timeline"]["total"] == 1 and seen_by_dso["timeline"]["total"] == 0
    missing = await supplier.get("/api/partners/987654321/view")
    assert missing.status == 404


async def test_every_view_of_personal_data_is_audited(web: Web) -> None:
    client, _ = await web.signed_in("ana")
    pid = web.world.partner_id
    await client.get(f"/partners/{pid}")
    await client.get(f"/api/partners/{pid}/view")
    await client.get(f"/tickets/{web.world.supplier_ticket}")
    await client.get("/search", params={"q": "Novak"}, headers={"HX-Request": "true"})

    async with web.store.sessions() as db:
        entries = (
            await db.execute(
                select(AuditEntry.actor, AuditEntry.action, AuditEntry.details)
                .where(AuditEntry.partner_id == pid)
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(a, b) for a, b, _ in entries] == [
        ("ana", "view"),
        ("ana", "view"),
        ("ana", "view"),
        ("ana", "search"),
    ]
    assert [d.get("via") for _, _, d in entries[:3]] == ["customer_view", "customer_view", "ticket"]


HOSTILE = "<script>alert('x')</script>"
HOSTILE_NAME = '<img src=x onerror="alert(1)">'
HOSTILE_HTML = (
    '<p>Pozdravljeni</p><script>alert("body")</script>'
    '<a href="javascript:alert(2)" onclick="alert(3)">klik</a><iframe src="//evil"></iframe>'
)


async def test_customer_text_cannot_inject_markup(web: Web) -> None:
    """XSS through a customer's email subject, name and HTML body."""
    now = datetime.now(UTC)
    async with web.store.sessions() as db, db.begin():
        partner = await db.get_one(Partner, web.world.partner_id)
        partner.first_name = HOSTILE_NAME
        ticket = await db.get_one(Ticket, web.world.supplier_ticket)
        ticket.subject = HOSTILE
        db.add(
            Activity(
                channel=Channel.EMAIL,
                direction=Direction.INBOUND,
                external_id="<xss@x>",
                occurred_at=now,
                legal_entity="supplier",
                sender_name=HOSTILE_NAME,
                sender_address="x@example.si",
                subject=HOSTILE,
                text=None,
                partner_id=partner.id,
                ticket_id=ticket.id,
                state=ActivityState.PROCESSED,
                match_reasons=[],
                match_candidates=[],
                meta={"html": HOSTILE_HTML},
            )
        )
    client, _ = await web.signed_in("ana")
    pages = [
        await (await client.get(f"/tickets/{web.world.supplier_ticket}")).text(),
        await (await client.get(f"/partners/{web.world.partner_id}")).text(),
        await (
            await client.get("/search", params={"q": "Novak"}, headers={"HX-Request": "true"})
        ).text(),
        await (await client.get("/")).text(),
    ]
    for html in pages:
        for dangerous in (
            "<script>alert",
            "<img",
            'onerror="',
            'onclick="',
            "<iframe",
            "javascript:alert",
        ):
            assert dangerous not in html
    assert "&lt;script&gt;alert(" in pages[0]
    assert "Pozdravljeni" in pages[0] and "klik" in pages[0]
    assert "&lt;img src=x" in pages[1]

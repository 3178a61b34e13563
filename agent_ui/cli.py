"""`stik users`: add the employees who sign in to the workspace, and list them."""

import asyncio
import os

import click
from sqlalchemy import select

from agent_ui.users import PasswordTooShort, Role, add_employee
from interactions.models import Employee, LegalEntity, OrgUnit
from interactions.store import Store

PASSWORD_ENV = "STIK_USER_PASSWORD"


@click.group()
def users() -> None:
    """Employees who sign in: agents, supervisors, administrators."""


@users.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.AGENT.value)
@click.option("--legal-entity", required=True, help="code of the DSO or the supplier")
@click.option("--org-unit", type=click.Choice([u.value for u in OrgUnit]), required=True)
@click.option("--full-name", help="the name colleagues see (default: the login)")
@click.option("--email")
@click.option("--language", type=click.Choice(["sl", "en"]), default="sl")
@click.pass_obj
def add(
    ctx: object,
    login: str,
    role: str,
    legal_entity: str,
    org_unit: str,
    full_name: str | None,
    email: str | None,
    language: str,
) -> None:
    """Add LOGIN; the password comes from $STIK_USER_PASSWORD or is asked for."""
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )

    async def run() -> int:
        store: Store = ctx.store()  # type: ignore[attr-defined]
        try:
            async with store.sessions() as db, db.begin():
                if await db.get(LegalEntity, legal_entity) is None:
                    raise click.BadParameter(f"no legal entity {legal_entity!r}")
                if await db.scalar(select(Employee.id).where(Employee.login == login)):
                    raise click.BadParameter(f"login {login!r} is taken")
                employee = await add_employee(
                    db,
                    login=login,
                    password=password,
                    role=Role(role),
                    legal_entity=legal_entity,
                    org_unit=OrgUnit(org_unit),
                    full_name=full_name,
                    email=email,
                    languages=[language],
                )
                return employee.id
        finally:
            await store.close()

    try:
        employee_id = asyncio.run(run())
    except PasswordTooShort as exc:
        raise click.BadParameter(str(exc), param_hint="password") from None
    click.echo(f"added {login} ({role}, {legal_entity}) as employee {employee_id}")


@users.command("list")
@click.pass_obj
def list_users(ctx: object) -> None:
    """Print every employee: login, role, legal entity, org unit, active."""

    async def run() -> list[Employee]:
        store: Store = ctx.store()  # type: ignore[attr-defined]
        try:
            async with store.sessions() as db:
                return list(await db.scalars(select(Employee).order_by(Employee.login)))
        finally:
            await store.close()

    for e in asyncio.run(run()):
        state = "active" if e.active else "inactive"
        click.echo(f"{e.login}\t{e.role}\t{e.legal_entity}\t{e.org_unit}\t{state}")

"""Command line for matching: `stik resolve` and `stik partners duplicates|merge|reindex`.

The commands expect the `stik` group's context object, which opens the store
(`obj.store()`) and holds the settings (`obj.settings`).
"""

import asyncio
import json
import sys
from typing import IO, Any

import click

from interactions.match_index import rebuild, resolve
from interactions.matching import MatchSettings, make_query
from interactions.partners import find_duplicates, merge_partners
from interactions.store import Store

#: The fields of a `stik resolve` input line that describe the contact.
QUERY_FIELDS = ("phone", "email", "name", "address", "text", "birth_date", "national_id")


def _settings(obj: Any) -> MatchSettings:
    extra = getattr(getattr(obj, "settings", None), "extra", {}) or {}
    return MatchSettings.from_mapping(extra.get("matching", {}))


def _store(obj: Any) -> Store:
    store: Store = obj.store()
    return store


@click.command("resolve")
@click.option(
    "--input", "source", type=click.File("r"), default="-", help="JSON lines (default stdin)"
)
@click.option("--output", type=click.File("w"), default="-", help="JSON lines (default stdout)")
@click.pass_obj
def resolve_command(obj: Any, source: IO[str], output: IO[str]) -> None:
    """Resolve contacts given as JSON lines to partners and metering points.

    \b
    Each input line: {"id", "phone", "email", "name", "address", "text", "channel"}
    (any may be missing; also "birth_date" and "national_id"). Each output line: id,
    outcome (matched, ambiguous, unknown) and candidates with partner_id, external_id,
    metering_point, score and reasons.
    """
    settings = _settings(obj)

    async def run() -> None:
        store = _store(obj)
        try:
            async with store.sessions() as session:
                for line in source:
                    if line.strip():
                        answer = await _resolve_line(session, line, settings)
                        output.write(json.dumps(answer, ensure_ascii=False) + "\n")
        finally:
            await store.close()

    asyncio.run(run())


async def _resolve_line(session: Any, line: str, settings: MatchSettings) -> dict[str, Any]:
    try:
        contact = json.loads(line)
    except ValueError as exc:
        return {"id": None, "outcome": "unknown", "candidates": [], "error": f"not JSON: {exc}"}
    if not isinstance(contact, dict):
        return {"id": None, "outcome": "unknown", "candidates": [], "error": "not an object"}
    fields = {k: contact.get(k) for k in QUERY_FIELDS}
    resolution = await resolve(session, make_query(**fields), settings)
    return {
        "id": contact.get("id"),
        "outcome": resolution.outcome.value,
        "candidates": [c.as_json() for c in resolution.candidates],
    }


@click.group("partners")
def partners() -> None:
    """Partners: find and merge duplicates, rebuild the match index."""


@partners.command("duplicates")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.pass_obj
def duplicates_command(obj: Any, as_json: bool) -> None:
    """List pairs of partners that are likely one, with scores and reasons."""
    settings = _settings(obj)

    async def run() -> int:
        store = _store(obj)
        found = 0
        try:
            async with store.sessions() as session:
                async for pair in find_duplicates(session, settings):
                    found += 1
                    if as_json:
                        sys.stdout.write(json.dumps(pair.as_json(), ensure_ascii=False) + "\n")
                    else:
                        reasons = "; ".join(pair.reasons)
                        click.echo(
                            f"{pair.first_id}\t{pair.second_id}\t{pair.score:.3f}\t{reasons}"
                        )
        finally:
            await store.close()
        return found

    found = asyncio.run(run())
    if not as_json:
        click.echo(f"{found} likely duplicate pair(s)", err=True)


@partners.command("merge")
@click.argument("keep", type=int)
@click.argument("drop", type=int)
@click.option("--actor", default="cli", help="who merges, for the audit trail")
@click.pass_obj
def merge_command(obj: Any, keep: int, drop: int, actor: str) -> None:
    """Merge partner DROP into partner KEEP (roles, contact points, activities, tickets)."""

    async def run() -> dict[str, int]:
        store = _store(obj)
        try:
            async with store.sessions() as session, session.begin():
                return await merge_partners(session, keep, drop, actor=actor)
        finally:
            await store.close()

    try:
        moved = asyncio.run(run())
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    summary = ", ".join(f"{n} {what}" for what, n in moved.items())
    click.echo(f"partner {drop} merged into {keep}: {summary}")


@partners.command("reindex")
@click.pass_obj
def reindex_command(obj: Any) -> None:
    """Rebuild the match index from all partners (after a bulk load)."""

    async def run() -> int:
        store = _store(obj)
        try:
            async with store.engine.begin() as conn:
                return await rebuild(conn)
        finally:
            await store.close()

    click.echo(f"match index rebuilt: {asyncio.run(run())} partners")

"""`stik triage`: classify JSON lines, list and decide the triage queue, retrain."""

import asyncio
import json
import sys
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from interactions.triage.service import Triage


MAX_LINE = 1_000_000


def _root(ctx: click.Context) -> Any:
    """The `stik` command's context object: settings and a store opened on demand."""
    return ctx.find_root().obj


def _model_dir(ctx: click.Context, given: str | None) -> Path:
    return Path(given) if given else _root(ctx).settings.data_dir / "triage"


@click.group()
def triage() -> None:
    """Auto-triage of written contacts: classify, review, retrain."""


@triage.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--model-dir", help="folder of a retrained model (default: data dir/triage)")
@click.option("--received", help="the day the messages arrived, YYYY-MM-DD (default today)")
@click.pass_context
def classify(
    ctx: click.Context, source: IO[str], model_dir: str | None, received: str | None
) -> None:
    """Classify JSON lines {"id", "subject", "body"} from SOURCE (default stdin).

    Writes one JSON line per message: id, category, confidence, priority, urgent,
    language and extracted values. A line that is not a JSON object gets an `error`.
    """
    from interactions.triage.service import Triage

    engine = Triage(_model_dir(ctx, model_dir))
    day = date.fromisoformat(received) if received else None
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        result = _classify_line(engine, line, number, day)
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _classify_line(engine: "Triage", line: str, number: int, day: date | None) -> dict[str, Any]:
    try:
        message = json.loads(line[:MAX_LINE])
    except json.JSONDecodeError as exc:
        return {"id": None, "line": number, "error": f"not JSON: {exc.msg}"}
    except (ValueError, RecursionError):
        return {"id": None, "line": number, "error": "not JSON: nested too deep or too long"}
    if not isinstance(message, dict):
        return {"id": None, "line": number, "error": "not a JSON object"}
    subject, body = message.get("subject"), message.get("body")
    if not isinstance(subject, str | None) or not isinstance(body, str | None):
        return {"id": message.get("id"), "line": number, "error": "subject and body: text"}

    result = engine.triage(subject, body, day, message.get("sender"), message.get("meta"))
    return {
        "id": message.get("id"),
        "category": result.category,
        "confidence": round(result.confidence, 4),
        "priority": result.priority,
        "urgent": result.urgent,
        "language": result.language,
        "needs_review": result.needs_review,
        "reasons": [reason["rule"] for reason in result.reasons],
        "model_version": result.model_version,
        "extracted": result.extracted.as_json(),
    }


@triage.command("retrain")
@click.option("--model-dir", help="where to keep the model (default: data dir/triage)")
@click.pass_context
def retrain_command(ctx: click.Context, model_dir: str | None) -> None:
    """Retrain on the shipped messages and every decision people made."""
    from interactions.triage.review import retrain

    root = _root(ctx)
    target = _model_dir(ctx, model_dir)

    async def run() -> dict[str, Any]:
        store = root.store()
        try:
            return (await retrain(store, target))[1]
        finally:
            await store.close()

    figures = asyncio.run(run())
    click.echo(json.dumps(figures, sort_keys=True))


@triage.command()
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def queue(ctx: click.Context, limit: int) -> None:
    """List contacts waiting for a person's decision (JSON lines)."""
    from interactions.triage.review import pending_reviews

    root = _root(ctx)

    async def run() -> list[Any]:
        store = root.store()
        try:
            return await pending_reviews(store, limit)
        finally:
            await store.close()

    for review in asyncio.run(run()):
        row = {**review.__dict__, "created_at": review.created_at.isoformat()}
        click.echo(json.dumps(row, ensure_ascii=False))


@triage.command()
@click.argument("activity_id", type=int)
@click.argument("category")
@click.option("--by", "decided_by", required=True, help="login of the person deciding")
@click.pass_context
def label(ctx: click.Context, activity_id: int, category: str, decided_by: str) -> None:
    """Set the category of ACTIVITY_ID; the decision becomes a training label."""
    from interactions.triage.review import UnknownCategory, decide

    root = _root(ctx)

    async def run() -> None:
        store = root.store()
        try:
            await decide(store, activity_id, category, decided_by)
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except UnknownCategory as exc:
        raise click.BadParameter(str(exc), param_hint="CATEGORY") from None
    click.echo(f"activity {activity_id}: {category}")

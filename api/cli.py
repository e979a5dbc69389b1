"""The `carelog` command: serve the app, seed demo data, rebuild views."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.runtime import Runtime
from api.users_cli import users
from integrations.settings import Settings, SettingsError
from projections.runner import ApplicationLog

console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Carelog: every client interaction as an event, every number explained.

    Configuration comes from CARELOG_* environment variables (and a .env file): without
    CARELOG_DATABASE_URL everything runs embedded on SQLite files under CARELOG_DATA_DIR
    (default ./var).
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default=None, help="Address to listen on (CARELOG_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (CARELOG_PORT, 8000).")
@click.option("--demo-if-empty", is_flag=True,
              help="Seed demo data first when the event log is empty (what `make run` does).")
@click.option("--demo-accounts", type=click.IntRange(1, 100_000), default=250, show_default=True,
              help="With --demo-if-empty: how many client companies to seed.")
@click.option("--demo-months", type=click.IntRange(1, 120), default=12, show_default=True,
              help="With --demo-if-empty: how many months of history to seed.")
@click.option("--no-workers", is_flag=True,
              help="Serve the API only; `carelog worker ...` processes keep the views "
                   "(needs CARELOG_NATS_URL).")
def serve(host: str | None, port: int | None, demo_if_empty: bool, demo_accounts: int,
          demo_months: int, no_workers: bool) -> None:
    """Serve GraphQL at /graphql (GraphiQL in development), /healthz and /readyz.

    Embedded (no CARELOG_NATS_URL), the projections run inside this process and follow the
    log as it grows. With CARELOG_NATS_URL this process also runs the relay and the stream
    projectors, unless --no-workers; run several of those behind a load balancer.
    """
    import uvicorn

    from api.app import create_app

    settings = _settings()
    if no_workers and not settings.is_distributed:
        raise click.UsageError("--no-workers needs CARELOG_NATS_URL: without NATS the views "
                               "are kept by this process")
    runtime = Runtime.open(settings, folds=not no_workers)
    if demo_if_empty and (runtime.desk.recorder.max_notification_id() or 0) == 0:
        console.print("The event log is empty: seeding demo data (carelog demo).")
        _seed(runtime, accounts=demo_accounts, months=demo_months, seed=7, until=None)
    if not no_workers:
        for runner in runtime.runners:
            with _progress(f"catching up {runner.name}") as update:
                runner.catch_up(update)
    app = create_app(settings, runtime=runtime, run_workers=not no_workers)
    where = f"http://{host or settings.host}:{port or settings.port}"
    console.print(f"Carelog on {where}  (GraphQL: {where}/graphql)")
    try:
        uvicorn.run(app, host=host or settings.host, port=port or settings.port,
                    log_level="info", ws="websockets-sansio")
    finally:
        runtime.close()


def _seed(runtime: Runtime, *, accounts: int, months: int, seed: int,
          until: date | None) -> None:
    from api.demo import DemoGenerator

    generator = DemoGenerator(runtime.desk, accounts=accounts, months=months, seed=seed,
                              until=until)
    with _progress("writing demo accounts") as update:
        summary = generator.run(update)
    console.print(
        f"Demo data: {summary.accounts} accounts, {summary.cases} cases, "
        f"{summary.interactions} interactions ({summary.refused} on channels outside the plan), "
        f"{summary.survey_responses} NPS answers, "
        f"{summary.feedback} feature requests filed as product feedback, "
        f"{runtime.desk.recorder.max_notification_id() or 0} events in the log.")


@main.command()
@click.option("--accounts", type=click.IntRange(1, 100_000), default=250, show_default=True,
              help="How many client companies.")
@click.option("--months", type=click.IntRange(1, 120), default=12, show_default=True,
              help="How many months of history, ending at --until.")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Random seed; the same seed and end date give the same data.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of the history (default: today).")
def demo(accounts: int, months: int, seed: int, until: object) -> None:
    """Seed realistic demo data through the same commands a user calls.

    Revenue is spread like real B2B (a few large accounts, many small); each account gets
    contacts, monthly revenue, and cases on every channel its plan allows, with replies,
    escalations, resolutions and ratings. Running it again with the same seed adds nothing.
    """
    runtime = Runtime.open(_settings())
    try:
        _seed(runtime, accounts=accounts, months=months, seed=seed,
              until=until.date() if until is not None else None)  # type: ignore[attr-defined]
        for runner in runtime.runners:
            with _progress(f"projecting {runner.name}") as update:
                runner.catch_up(update)
    finally:
        runtime.close()


@main.command()
@click.argument("projection", required=False)
def rebuild(projection: str | None) -> None:
    """Recompute a view (or every view) from the first event of the log.

    PROJECTION is one of the read models (accounts, case_queues); without it, all are rebuilt.
    A running server keeps answering meanwhile and catches up with the rebuilt view.
    """
    runtime = Runtime.open(_settings())
    try:
        try:
            runners = runtime.select([projection] if projection else [])
        except KeyError as error:
            raise click.BadParameter(str(error.args[0]), param_hint="PROJECTION") from None
        for runner in runners:
            with _progress(f"rebuilding {runner.name}") as update:
                count = runner.rebuild(update)
            console.print(f"{runner.name}: {count} events folded, at position {runner.position}")
    finally:
        runtime.close()


@main.group()
def worker() -> None:
    """Run one kind of worker process of the distributed mode (needs CARELOG_NATS_URL)."""


@worker.command("relay")
def worker_relay() -> None:
    """Publish the event log to the JetStream stream, in order, exactly once per position.

    Run one or more: one holds the lease and publishes, the others wait to take over.
    """
    _run_workers(relay=True, projections=None)


@worker.command("projections")
@click.argument("names", nargs=-1)
def worker_projections(names: tuple[str, ...]) -> None:
    """Keep views (NAMES, or all of them) from the stream, one durable consumer each."""
    _run_workers(relay=False, projections=list(names))


@worker.command("reactors")
def worker_reactors() -> None:
    """Run the SLA clock and the health alerts (rounds every CARELOG_REACTOR_INTERVAL seconds),
    and with CARELOG_JIRA_URL the Jira sync.

    The first two are safe to run in several processes at once (every command they call is
    idempotent); the Jira sync takes turns through a lease.
    """
    import signal
    import threading

    settings = _settings()
    runtime = Runtime.open(settings, folds=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        runtime.start_reactors()
        console.print(f"carelog worker reactors running "
                      f"({', '.join(r.name for r in runtime.reactors)}, every "
                      f"{settings.reactor_interval:g}s)")
        stop.wait()
    finally:
        runtime.close()


@worker.command("jira")
def worker_jira() -> None:
    """Keep each feedback item's Jira issue in line with Carelog (needs CARELOG_JIRA_URL).

    Run one or more: one holds the lease and calls Jira, the others wait to take over. It reads
    the feedback_board view, which `carelog worker projections` keeps.
    """
    import signal

    settings = _settings()
    if not settings.jira.enabled:
        raise click.UsageError("the Jira reactor needs CARELOG_JIRA_URL")
    if not settings.is_distributed:
        raise click.UsageError("without CARELOG_NATS_URL, `carelog serve` runs the Jira "
                               "reactor itself")
    runtime = Runtime.open(settings, folds=False)
    reactor = runtime.reactor("jira")
    assert reactor is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: reactor.stop(timeout=0))
    console.print(f"carelog worker jira running (project {settings.jira.project})")
    try:
        reactor.run()
    finally:
        runtime.close()


@worker.command("telegram")
def worker_telegram() -> None:
    """The Telegram side (needs CARELOG_TELEGRAM_TOKEN): in polling mode, long-poll
    getUpdates and apply each update as the webhook route would; in either mode, send our
    outbound messages (one process at a time, through a lease).

    Embedded, `carelog serve` does all of this itself. It reads the rooms and directory views,
    which `carelog worker projections` keeps.
    """
    import signal
    import threading

    settings = _settings()
    if not settings.telegram.enabled:
        raise click.UsageError("the Telegram worker needs CARELOG_TELEGRAM_TOKEN")
    runtime = Runtime.open(settings, folds=False)
    assert runtime.telegram is not None
    delivery = runtime.reactor("outbound-delivery")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        runtime.telegram.start(poll=True)
        if delivery is not None:
            delivery.start()
        console.print(f"carelog worker telegram running ({settings.telegram.mode} mode"
                      f"{', outbound delivery' if delivery is not None else ''})")
        stop.wait()
    finally:
        runtime.close()


def _run_workers(*, relay: bool, projections: list[str] | None) -> None:
    import asyncio
    import signal

    from workers.distributed import NatsWorkers

    settings = _settings()
    if not settings.is_distributed:
        raise click.UsageError("workers need CARELOG_NATS_URL; without NATS, `carelog serve` "
                               "keeps the views itself")
    runtime = Runtime.open(settings, folds=projections is not None)
    try:
        try:
            runners = [] if projections is None else runtime.select(projections)
        except KeyError as error:
            raise click.BadParameter(str(error.args[0]), param_hint="NAMES") from None

        async def run() -> list[str]:
            what = "relay" if relay else "projections"
            async with NatsWorkers(settings, ApplicationLog(runtime.desk), runtime.store,
                                   runners, relay=relay, name=f"carelog-{what}") as workers:
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, workers.stop.set)
                console.print(f"carelog worker {what} running "
                              f"({', '.join(r.name for r in runners) or 'relay'})")
                await workers.wait()
                return list(workers.failures)

        failures = asyncio.run(run())
    finally:
        runtime.close()
    if failures:
        for failure in failures:
            console.print(f"[red]{failure}[/red]")
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(as_json: bool) -> None:
    """Each view's and the relay's position against the head of the log, their lag in
    events and seconds, dead letters, and the stream and its consumers (with NATS)."""
    import asyncio
    import json

    from api.status import gather_status, render_status

    settings = _settings()
    runtime = Runtime.open(settings, folds=False)
    try:
        report = asyncio.run(gather_status(runtime))
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        render_status(report, Console())
    if report["dead_letters"] or report.get("stream_error"):
        sys.exit(1)


@main.group()
def stream() -> None:
    """Operations on the JetStream stream of the distributed mode."""


@stream.command("reset")
@click.confirmation_option(prompt="Delete the stream and its consumers, and re-publish the "
                                  "whole log into a new one?")
def stream_reset() -> None:
    """Delete the stream; the running relay re-publishes the whole log into a new one.

    Views are untouched: each projector skips what it already holds. Use it after a data
    loss on the NATS side, or to move the stream to other settings (replicas, storage).
    """
    import asyncio

    from integrations.nats.stream import reset_stream

    settings = _settings()
    if not settings.is_distributed:
        raise click.UsageError("there is no stream without CARELOG_NATS_URL")
    asyncio.run(reset_stream(settings))
    console.print("Stream deleted; the relay publishes the log into a new one.")


main.add_command(users)


if __name__ == "__main__":
    sys.exit(main())

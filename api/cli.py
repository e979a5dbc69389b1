"""The `carelog` command: serve the app, seed demo data, rebuild views."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.runtime import Runtime
from api.users_cli import users
from integrations.importers.csv_files import describe_columns
from integrations.importers.records import ImportPlan
from integrations.settings import Settings, SettingsError
from projections.runner import ApplicationLog

console = Console(stderr=True)
CSV_COLUMNS_HELP = describe_columns()


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
        with _progress(f"catching up {len(runtime.runners)} views") as update:
            runtime.catch_up(progress=update)
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
        with _progress(f"projecting {len(runtime.runners)} views") as update:
            runtime.catch_up(progress=update)
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
            runner.reset()
        with _progress(f"rebuilding {', '.join(r.name for r in runners)}") as update:
            runtime.catch_up(runners, update)
        for runner in runners:
            console.print(f"{runner.name}: rebuilt, at position {runner.position}")
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
    the announcement fan-out (every 2 s), and with CARELOG_JIRA_URL the Jira sync.

    The first two are safe to run in several processes at once (every command they call is
    idempotent); the fan-out and the Jira sync take turns through a lease.
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


def _import_options(command: Callable[..., None]) -> Callable[..., None]:
    options = (
        click.option("--dry-run", is_flag=True,
                     help="Read and validate everything, write nothing."),
        click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write every rejected row as JSON lines (kind, file, line, key, "
                          "reason) to this file."),
        click.option("--batch-size", type=click.IntRange(1, 10_000), default=500,
                     show_default=True, help="Items saved per transaction."),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _run_import(read: Callable[[Settings], ImportPlan], dry_run: bool, report: Path | None,
                batch_size: int) -> None:
    from eventsourcing.persistence import PersistenceError

    from integrations.importers.replayer import HistoryWriter
    from integrations.importers.report import render_summary, write_rejections
    from integrations.importers.sources import SourceError

    settings = _settings()
    try:
        plan = read(settings)
    except SourceError as error:
        console.print(f"[red]Nothing imported: {error}[/red]")
        sys.exit(1)
    if not plan.files_read:
        console.print("[red]Nothing imported: no file of a known kind was found.[/red]")
        sys.exit(1)
    runtime = Runtime.open(settings, folds=not dry_run)
    try:
        with _progress("importing" + (" (dry run)" if dry_run else "")) as update:
            try:
                summary = HistoryWriter(runtime.desk, currency=settings.currency,
                                        batch_size=batch_size, dry_run=dry_run,
                                        progress=update).write(plan)
            except PersistenceError as error:
                # Every batch is one transaction: what was written is whole, and running the
                # same import again skips it and writes the rest.
                console.print(f"[red]The import stopped: {type(error).__name__}: {error}. "
                              f"Run it again to resume.[/red]")
                sys.exit(1)
        if not dry_run:
            with _progress(f"projecting {len(runtime.runners)} views") as update:
                runtime.catch_up(progress=update)
    finally:
        runtime.close()
    render_summary(summary, console)
    if report is not None:
        write_rejections(summary, report)
        console.print(f"{len(summary.rejections)} rejected rows listed in {report}")
    if summary.landed == 0 and summary.rejections:
        sys.exit(1)


@main.group("import")
def import_() -> None:
    """Bring your history: accounts, revenue, contacts and tickets from CSV files, a Zendesk
    or a Freshdesk export. Imported items keep ids derived from the source's ids, so running
    an import again (or after an interruption) adds nothing twice."""


@import_.command("csv", epilog="\b\nFiles and columns (required [optional]):\n"
                               + CSV_COLUMNS_HELP)
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--timezone", "zone", default="UTC", show_default=True,
              help="Zone of date-times written without an offset (Europe/Berlin, ...).")
@_import_options
def import_csv(directory: Path, zone: str, dry_run: bool, report: Path | None,
               batch_size: int) -> None:
    """Import the CSV files found in DIRECTORY (names below, any subset).

    Dates: ISO 8601, M/D/YYYY or M/D/YYYY H:MM (AM/PM allowed); booleans TRUE/FALSE, yes/no,
    1/0; an empty cell is missing, never zero. A subscription counts in every month from its
    start month to its end month; ARR = 12 x MRR; churn_date sets ARR to 0 from that day.
    Tickets: a first response, resolution or close left empty did not happen; satisfaction
    is 1-5. With messages.csv, a ticket's outbound messages are its replies.
    """
    from integrations.importers.cells import BadCell
    from integrations.importers.cells import zone as read_zone
    from integrations.importers.csv_files import CsvReader

    try:
        local = read_zone(zone)
    except BadCell as error:
        raise click.BadParameter(str(error), param_hint="--timezone") from None
    _run_import(lambda s: CsvReader(local, s.currency).read(directory), dry_run, report,
                batch_size)


def _source_choice(directory: Path | None, url: str | None, needed: dict[str, str | None]
                   ) -> None:
    if (directory is None) == (url is None):
        raise click.UsageError("give either --dir or --url")
    if url is not None:
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise click.UsageError(f"--url needs {' and '.join(missing)}")


@import_.command("zendesk")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False,
                                                     path_type=Path), default=None,
              help="A directory of exported JSON files (organizations, users, the incremental "
                   "ticket export pages with metric_sets, ticket_metrics, "
                   "satisfaction_ratings).")
@click.option("--url", default=None, help="Your Zendesk, e.g. https://acme.zendesk.com.")
@click.option("--email", default=None, envvar="CARELOG_ZENDESK_EMAIL",
              help="The agent's email for the API token (CARELOG_ZENDESK_EMAIL).")
@click.option("--token", default=None, envvar="CARELOG_ZENDESK_TOKEN",
              help="An API token (CARELOG_ZENDESK_TOKEN).")
@_import_options
def import_zendesk(directory: Path | None, url: str | None, email: str | None,
                   token: str | None, dry_run: bool, report: Path | None,
                   batch_size: int) -> None:
    """Import organizations (accounts), end users (contacts) and tickets with their metrics
    and satisfaction ratings from Zendesk.

    First response = created_at + reply_time_in_minutes (calendar); resolution = the first
    resolution; a closed ticket closed at its last update; rating good = 5, bad = 1; the
    organization field `tier` (or `plan`) sets the tier, else standard.
    """
    from integrations.importers import zendesk

    _source_choice(directory, url, {"--email": email, "--token": token})

    def read(settings: Settings) -> ImportPlan:
        records = (zendesk.read_directory(directory) if directory is not None
                   else zendesk.fetch(str(url), str(email), str(token)))
        return zendesk.ZendeskReader().plan(records)

    _run_import(read, dry_run, report, batch_size)


@import_.command("freshdesk")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False,
                                                     path_type=Path), default=None,
              help="A directory of exported JSON lists: companies*.json, contacts*.json, "
                   "agents*.json, tickets*.json (with stats), conversations*.json, "
                   "satisfaction_ratings*.json.")
@click.option("--url", default=None, help="Your Freshdesk, e.g. https://acme.freshdesk.com.")
@click.option("--token", default=None, envvar="CARELOG_FRESHDESK_TOKEN",
              help="An API key (CARELOG_FRESHDESK_TOKEN).")
@_import_options
def import_freshdesk(directory: Path | None, url: str | None, token: str | None,
                     dry_run: bool, report: Path | None, batch_size: int) -> None:
    """Import companies (accounts), contacts and tickets with stats, conversations and
    satisfaction ratings from Freshdesk.

    Times from the ticket stats (first_responded_at, resolved_at, closed_at); with
    conversations the public outgoing ones are the replies. Priority 1-4 = low, normal,
    high, urgent. Ratings 103/102/101/100/-101/-102/-103 = CSAT 5/4/4/3/2/2/1.
    """
    from integrations.importers import freshdesk

    _source_choice(directory, url, {"--token": token})

    def read(settings: Settings) -> ImportPlan:
        records = (freshdesk.read_directory(directory) if directory is not None
                   else freshdesk.fetch(str(url), str(token)))
        return freshdesk.FreshdeskReader().plan(records)

    _run_import(read, dry_run, report, batch_size)


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

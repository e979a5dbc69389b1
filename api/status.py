"""`carelog status`: where each view and the relay stand against the head of the log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import AggregateEvent
from rich.console import Console
from rich.table import Table

from api.runtime import Runtime
from workers.relay import RELAY


def _lag_seconds(runtime: Runtime, position: int, head: int) -> float:
    """How long ago the oldest event not yet folded was recorded (0 when caught up)."""
    if position >= head:
        return 0.0
    page = runtime.desk.recorder.select_notifications(start=position, limit=1,
                                                      inclusive_of_start=False)
    if not page:
        return 0.0
    event = runtime.desk.mapper.to_domain_event(page[0])
    if not isinstance(event, AggregateEvent):
        return 0.0
    return max((datetime.now(UTC) - event.timestamp).total_seconds(), 0.0)


def _local(runtime: Runtime) -> dict[str, Any]:
    head = runtime.desk.recorder.max_notification_id() or 0
    positions = runtime.store.positions()
    names = [r.name for r in runtime.runners]
    if runtime.settings.is_distributed:
        names.append(RELAY)
    workers = []
    for name in names:
        position = positions.get(name, 0)
        workers.append({"name": name, "position": position, "lag_events": max(head - position, 0),
                        "lag_seconds": round(_lag_seconds(runtime, position, head), 3)})
    dead = [{"name": d.name, "notification_id": d.notification_id, "topic": d.topic,
             "error": d.error, "deliveries": d.deliveries, "recorded_at": d.recorded_at}
            for d in runtime.store.dead_letters()]
    return {"head": head, "workers": workers, "dead_letters": dead}


async def gather_status(runtime: Runtime) -> dict[str, Any]:
    report = await asyncio.to_thread(_local, runtime)
    settings = runtime.settings
    if settings.is_distributed:
        from integrations.nats.stream import stream_report

        try:
            report["stream"] = await asyncio.wait_for(
                stream_report(settings, [r.name for r in runtime.runners]), 10)
        except Exception as error:  # reported, not raised: status must answer
            report["stream_error"] = f"{type(error).__name__}: {error}"
    return report


def render_status(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Carelog: the log's head is notification {report['head']}")
    for column in ("worker", "position", "lag (events)", "lag (seconds)", "consumer pending"):
        table.add_column(column, justify="left" if column == "worker" else "right")
    consumers = report.get("stream", {}).get("consumers", {})
    for w in report["workers"]:
        consumer = consumers.get(w["name"])
        pending = "" if consumer is None else f"{consumer['pending']} (+{consumer['ack_pending']})"
        table.add_row(w["name"], str(w["position"]), str(w["lag_events"]),
                      f"{w['lag_seconds']:.1f}", pending)
    console.print(table)
    if "stream" in report:
        s = report["stream"]
        console.print(f"stream {s['name']}: {s['messages']} messages (seq {s['first_seq']}.."
                      f"{s['last_seq']}), {s['replicas']} replica(s), last {s['last'] or '-'}")
    if report.get("stream_error"):
        console.print(f"[red]stream unreachable: {report['stream_error']}[/red]")
    for d in report["dead_letters"]:
        console.print(f"[red]dead letter: {d['name']} stopped at notification "
                      f"{d['notification_id']} ({d['topic']}) after {d['deliveries']} attempts: "
                      f"{d['error']}[/red]")

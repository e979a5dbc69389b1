"""The end-of-import summary and the machine-readable report of rejected rows."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from integrations.importers.replayer import ImportSummary


def write_rejections(summary: ImportSummary, path: Path) -> None:
    """One JSON object per rejected row: kind, file, line, key (the source's id) and reason."""
    with path.open("w", encoding="utf-8") as handle:
        for rejection in summary.rejections:
            handle.write(json.dumps(rejection.as_json(), ensure_ascii=False) + "\n")


def render_summary(summary: ImportSummary, console: Console) -> None:
    verb = "would be created" if summary.dry_run else "created"
    table = Table(title=f"Import from {summary.source}"
                        + (" (dry run: nothing written)" if summary.dry_run else ""))
    for column in ("rows", verb, "already present", "added to present", "rejected"):
        table.add_column(column, justify="left" if column == "rows" else "right")
    for kind, tally in summary.tallies.items():
        if tally.created or tally.present or tally.updated or tally.rejected:
            table.add_row(kind, str(tally.created), str(tally.present), str(tally.updated),
                          str(tally.rejected))
    console.print(table)
    reasons: dict[tuple[str, str], int] = {}
    for rejection in summary.rejections:
        key = (rejection.kind, rejection.reason)
        reasons[key] = reasons.get(key, 0) + 1
    for (kind, reason), count in sorted(reasons.items(), key=lambda r: -r[1])[:20]:
        console.print(f"  rejected {kind} x{count}: {reason}")

"""What a feedback item's Jira issue says: summary, description with the accounts and their
ARR, labels (the feedback label among them), and the markers of comments Carelog writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from domain.feedback import Feedback, feedback_label
from domain.ports import IssueDraft

MARKER_PREFIX = "[carelog-sync "


@dataclass(frozen=True, slots=True)
class Requester:
    """A requesting account as the issue shows it."""

    name: str
    arr: Decimal
    currency: str


def marker(feedback: Feedback, announced: int) -> str:
    """Names the comment announcing accounts up to `announced`: posting it twice is seen."""
    return f"{MARKER_PREFIX}{feedback.id} accounts={announced}]"


def merged_marker(feedback: Feedback) -> str:
    return f"{MARKER_PREFIX}{feedback.id} merged]"


def draft(feedback: Feedback, requesters: list[Requester]) -> IssueDraft:
    total = sum((r.arr for r in requesters), Decimal(0))
    currency = requesters[0].currency if requesters else ""
    lines = [feedback.text, "", f"Requested by {len(requesters)} account(s), "
             f"ARR {total:,.2f} {currency}:"]
    lines += [f"* {r.name}: ARR {r.arr:,.2f} {r.currency}" for r in requesters]
    lines += ["", f"Carelog feedback {feedback.id}"]
    label = feedback_label(feedback.id)
    area = re.sub(r"[^a-z0-9]+", "-", feedback.product_area.lower()).strip("-") or "general"
    return IssueDraft(summary=feedback.title[:250], description="\n".join(lines),
                      labels=("carelog-feedback", f"area-{area}", label), label=label)


def joined_comment(names: list[str], requesters: list[Requester]) -> str:
    total = sum((r.arr for r in requesters), Decimal(0))
    currency = requesters[0].currency if requesters else ""
    return (f"{', '.join(names)} also asked for this. Now {len(requesters)} account(s), "
            f"ARR {total:,.2f} {currency}.")

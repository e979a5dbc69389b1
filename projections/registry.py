"""Every read model Carelog keeps, built from settings in one place."""

from __future__ import annotations

from projections.accounts import AccountsProjection
from projections.case_queues import CaseQueuesProjection
from projections.feedback_board import FeedbackBoardProjection
from projections.money import ReportingRates
from projections.projection import Projection


def all_projections(rates: ReportingRates) -> list[Projection]:
    return [AccountsProjection(rates), CaseQueuesProjection(), FeedbackBoardProjection()]

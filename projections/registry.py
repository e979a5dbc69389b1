"""Every read model Carelog keeps, built from settings in one place."""

from __future__ import annotations

from projections.account_health import AccountHealthProjection
from projections.accounts import AccountsProjection
from projections.alerts_and_goals import AlertsAndGoalsProjection
from projections.announcements import AnnouncementsProjection
from projections.case_queues import CaseQueuesProjection
from projections.directory import DirectoryProjection
from projections.feedback_board import FeedbackBoardProjection
from projections.knowledge_base import KnowledgeBaseProjection
from projections.money import ReportingRates
from projections.projection import Projection
from projections.rooms import RoomsProjection
from projections.support_metrics import SupportMetricsProjection


def all_projections(rates: ReportingRates) -> list[Projection]:
    return [AccountsProjection(rates), CaseQueuesProjection(), AccountHealthProjection(),
            AlertsAndGoalsProjection(), SupportMetricsProjection(), FeedbackBoardProjection(),
            DirectoryProjection(), RoomsProjection(), KnowledgeBaseProjection(),
            AnnouncementsProjection()]

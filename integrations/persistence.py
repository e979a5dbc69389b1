"""The one place that turns settings into eventsourcing's configuration and opens the stores.

eventsourcing reads its own variables (`PERSISTENCE_MODULE`, `POSTGRES_*`, `SQLITE_*`); they are
derived here and passed to `CareDesk` as a mapping, never through `os.environ`.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from domain.application import CareDesk
from domain.ports import Clock
from integrations.event_recorder import TOPIC as RECORDER_TOPIC
from integrations.histories import history_reader
from integrations.settings import Settings, SettingsError
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore


def events_path(settings: Settings) -> Path:
    return settings.data_dir / "events.sqlite3"


def views_path(settings: Settings) -> Path:
    return settings.data_dir / "views.sqlite3"


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(events_path(settings)),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    params = conninfo_to_dict(settings.database_url)
    if not params.get("dbname"):
        raise SettingsError("CARELOG_DATABASE_URL must name a database")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params["dbname"]),
        "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        # A writer stuck behind the append lock fails fast instead of waiting forever.
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        # Off on purpose: that insert path skips the table lock and the tracking write
        # (shared/reference/reliability-security.md 1.4).
        "POSTGRES_ENABLE_DB_FUNCTIONS": "",
        "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
    }


def open_desk(settings: Settings, clock: Clock) -> CareDesk:
    env = eventsourcing_env(settings)
    if settings.database_url is None:
        desk = CareDesk(env, clock, settings.currencies)
    else:
        # eventsourcing creates its tables on start; processes starting together on an empty
        # database would race on PostgreSQL's catalogue, so they take turns.
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('carelog:ddl'))")
            desk = CareDesk(env, clock, settings.currencies)
    desk.send_feedback_outcomes = settings.feedback_outcomes == "send"
    desk.vip_line = settings.vip_line
    desk.read_histories = history_reader(desk.recorder)
    datastore = getattr(desk.recorder, "datastore", None)
    if getattr(datastore, "enable_db_functions", False):
        desk.close()
        raise SettingsError("POSTGRES_ENABLE_DB_FUNCTIONS must stay off: its insert path skips "
                            "the table lock that keeps the log gap-free for readers")
    return desk


def open_views(settings: Settings) -> ViewStore:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SQLiteViewStore(views_path(settings))
    return PostgresViewStore(settings.database_url, settings.db_pool_size)

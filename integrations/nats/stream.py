"""Connecting to NATS, the CARELOG stream, and the checks every process runs at start."""

from __future__ import annotations

import json
import logging
import time
import urllib.request

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError, ServiceUnavailableError

from integrations.nats.envelope import MessageId
from integrations.nats.subjects import Subjects
from integrations.settings import Settings

log = logging.getLogger(__name__)


class StartupCheckError(RuntimeError):
    """The NATS side is not as Carelog needs it; the message says what to change."""


async def connect(settings: Settings, name: str) -> Client:
    """A connection that keeps (re)connecting for ever, saying so in one line now and then.

    A process started before NATS waits for it, and one whose server goes away carries on
    when it is back; nats-py's own error report (a trace at every attempt) is replaced.
    """
    if settings.nats_url is None:
        raise StartupCheckError("CARELOG_NATS_URL is not set: the distributed mode needs NATS")
    servers = [u.strip() for u in settings.nats_url.split(",")]
    said: dict[str, float] = {}

    async def on_error(error: Exception) -> None:
        what = f"{type(error).__name__}: {error}"
        now = time.monotonic()
        if now - said.get(what, -60.0) >= 30.0:
            said[what] = now
            log.warning("NATS at %s: %s (retrying)", settings.nats_url, what)

    async def on_reconnected() -> None:
        log.info("NATS connection back")

    return await nats.connect(servers=servers, name=name, connect_timeout=5,
                              reconnect_time_wait=0.5, max_reconnect_attempts=-1,
                              allow_reconnect=True, error_cb=on_error,
                              reconnected_cb=on_reconnected)


def stream_config(settings: Settings) -> StreamConfig:
    subjects = Subjects(settings.nats_prefix)
    return StreamConfig(
        name=subjects.stream, subjects=[subjects.events], storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS, discard=DiscardPolicy.OLD,
        num_replicas=settings.nats_replicas, duplicate_window=settings.nats_duplicate_window)


async def ensure_stream(js: JetStreamContext, settings: Settings) -> StreamInfo:
    """Create the stream, or check that the existing one is configured as expected."""
    try:
        await js.account_info()
    except ServiceUnavailableError as error:
        # A definite answer: this server runs without JetStream. A timeout, by contrast, is a
        # cluster between leaders and is left to the caller's retry.
        raise StartupCheckError(
            "JetStream is not enabled on the server: start nats-server with -js "
            "(or `jetstream {}` in its configuration)") from error
    wanted = stream_config(settings)
    name = Subjects(settings.nats_prefix).stream
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        log.info("creating stream %s for %s", name, wanted.subjects)
        return await js.add_stream(wanted)
    have = info.config
    if have.subjects != wanted.subjects or have.storage != wanted.storage:
        raise StartupCheckError(
            f"stream {name} exists with subjects {have.subjects} and {have.storage} "
            f"storage; Carelog needs {wanted.subjects} on file storage. Delete the stream "
            "(`carelog stream reset`) to have it made again from the log")
    if (have.num_replicas != wanted.num_replicas
            or have.duplicate_window != wanted.duplicate_window):
        log.warning("updating stream %s: replicas %s -> %s, duplicate window %ss -> %ss",
                    name, have.num_replicas, wanted.num_replicas,
                    have.duplicate_window, wanted.duplicate_window)
        return await js.update_stream(wanted)
    return info


async def last_message_id(js: JetStreamContext, stream: str) -> MessageId | None:
    """The id of the newest message in the stream, or None when it is empty."""
    info = await js.stream_info(stream)
    if not info.state.messages:
        return None
    msg = await js.get_msg(stream, seq=info.state.last_seq)
    raw = (msg.headers or {}).get("Nats-Msg-Id")
    if raw is None:
        raise StartupCheckError(
            f"the last message of stream {stream} (seq {info.state.last_seq}) was not "
            "published by Carelog's relay; the stream must hold nothing else")
    return MessageId.parse(raw)


def durability_warning(settings: Settings) -> str | None:
    """A warning when the server may lose acknowledged writes on power loss, else None.

    nats-server fsyncs its file store every `sync_interval` (two minutes by default); an OS
    crash or power cut loses what was acknowledged since. The relay re-publishes from the log
    after such a loss, but only when the setting is known can we say nothing is at risk.
    """
    advice = ("set `jetstream { sync_interval: always }` in the nats-server configuration "
              "(or run a three-node cluster with CARELOG_NATS_REPLICAS=3)")
    if settings.nats_monitor_url is None:
        if settings.nats_replicas >= 3:
            return None
        return (f"cannot check nats-server's fsync setting (CARELOG_NATS_MONITOR_URL is not "
                f"set); unless it is `always`, a power cut can lose acknowledged events from "
                f"the stream (the relay re-publishes them from the log): {advice}")
    try:
        with urllib.request.urlopen(f"{settings.nats_monitor_url.rstrip('/')}/varz",
                                    timeout=5) as response:
            varz = json.load(response)
    except (OSError, ValueError) as error:
        return f"cannot read {settings.nats_monitor_url}/varz ({error}); {advice}"
    jetstream = varz.get("jetstream", {}).get("config", {})
    if jetstream.get("sync_always"):
        return None
    version = str(varz.get("version", "?"))
    if _older_than(version, (2, 10)):
        return (f"nats-server {version} fsyncs lazily and cannot be told otherwise "
                f"(sync_interval needs 2.10 or newer): upgrade, then {advice}")
    return f"nats-server {version} fsyncs lazily: {advice}"


def _older_than(version: str, floor: tuple[int, int]) -> bool:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < floor


async def reset_stream(settings: Settings) -> bool:
    """Delete the stream and its consumers; False when there was none."""
    nc = await connect(settings, "carelog-stream-reset")
    try:
        await nc.jetstream().delete_stream(Subjects(settings.nats_prefix).stream)
    except NotFoundError:
        return False
    finally:
        await nc.close()
    return True


async def stream_report(settings: Settings, consumers: list[str]) -> dict[str, object]:
    """The stream's state and each consumer's, for `carelog status`."""
    subjects = Subjects(settings.nats_prefix)
    nc = await connect(settings, "carelog-status")
    try:
        js = nc.jetstream()
        info = await js.stream_info(subjects.stream)
        report: dict[str, object] = {
            "name": subjects.stream, "messages": info.state.messages,
            "first_seq": info.state.first_seq, "last_seq": info.state.last_seq,
            "replicas": info.config.num_replicas,
            "last": str(await last_message_id(js, subjects.stream) or "")}
        found: dict[str, object] = {}
        for name in consumers:
            try:
                c = await js.consumer_info(subjects.stream, subjects.consumer(name))
            except NotFoundError:
                found[name] = None
                continue
            found[name] = {"pending": c.num_pending, "ack_pending": c.num_ack_pending,
                           "redelivered": c.num_redelivered}
        report["consumers"] = found
        return report
    finally:
        await nc.close()

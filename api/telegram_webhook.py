"""`/webhooks/telegram`: Telegram's deliveries of updates to our bot (webhook mode).

The secret token header is checked before the body is read (test row C5: a forged request is
answered 403 and costs no parsing), and counted like a refused Jira webhook. Every
authenticated update is answered 200, duplicates and updates that cannot be read included:
any other answer makes Telegram deliver it again and again, and holds back the updates behind
it. Only an outage of our store answers 500, so that Telegram delivers the update again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, post
from litestar.response import Response
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
)

from api.runtime import Runtime
from api.services import Services
from integrations.telegram.updates import InvalidUpdateError
from integrations.telegram.webhook import (
    SECRET_HEADER,
    PayloadTooLargeError,
    WebhookRefusedError,
    read_update,
    verify_secret,
)

log = logging.getLogger(__name__)


@post("/webhooks/telegram", status_code=HTTP_200_OK)
async def telegram_webhook(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    runtime: Runtime = request.app.state.runtime
    services: Services = request.app.state.services
    bot = runtime.telegram
    if bot is None:
        return Response({"status": "not configured"}, status_code=HTTP_404_NOT_FOUND)
    try:
        verify_secret(request.headers.get(SECRET_HEADER), bot.secret_token)
    except WebhookRefusedError:
        services.webhook_rejections += 1
        log.warning("refused a Telegram webhook without the secret token (%d so far)",
                    services.webhook_rejections)
        return Response({"status": "refused"}, status_code=HTTP_403_FORBIDDEN)
    body = await request.body()
    try:
        update = read_update(body, bot.identity)
    except PayloadTooLargeError as error:
        return Response({"status": "invalid", "error": error.message},
                        status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    except InvalidUpdateError as error:
        log.error("ignoring a Telegram update that cannot be read: %s", error.message)
        return Response({"status": "invalid", "error": error.message}, status_code=HTTP_200_OK)
    try:
        status = await asyncio.get_running_loop().run_in_executor(
            bot.webhook_threads, _apply, runtime, update)
    finally:
        services.after_write()
    return Response({"status": status, "updateId": update.update_id}, status_code=HTTP_200_OK)


def _apply(runtime: Runtime, update: Any) -> str:
    assert runtime.telegram is not None
    return runtime.telegram.handle(update)

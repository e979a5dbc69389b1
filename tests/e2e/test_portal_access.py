"""Portal access per plan and account, and self-registration by mail (matrix rows G3, G4),
through HTTP and GraphQL on both backends, with the mail handed to a real local SMTP server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.settings import EmailSettings
from tests.e2e.test_authentication import app_for  # noqa: F401  (a fixture)
from tests.e2e.users import PASSWORD, RECHECK, add_user, codes, post_gql, token_for
from tests.smtp_server import SmtpTestServer, smtp_server

pytestmark = pytest.mark.e2e

ME = "{ accounts(first: 5) { edges { node { id name } } } }"
AppFor = Callable[..., tuple[Runtime, TestClient[Any]]]
NEW_PASSWORD = "a long enough secret 42"


def _login(client: TestClient[Any], username: str, password: str = PASSWORD) -> Any:
    client.cookies.clear()
    return client.post("/auth/login", json={"username": username, "password": password})


def _account(runtime: Runtime, name: str, tier: str) -> UUID:
    result = runtime.desk.open_account(name=name, tier=tier, manager="Ann", currency="EUR",
                                       actor="staff:ann")
    return UUID(str(result.ids["accountId"]))


def test_portal_access_is_decided_by_plan_then_account(app_for: AppFor) -> None:  # noqa: F811
    runtime, client = app_for(portal_tiers=frozenset({"vip"}))
    vip, standard = _account(runtime, "Vip Co", "vip"), _account(runtime, "Std Co", "standard")
    add_user(runtime, "vera", "client", password=True, account_id=vip)
    add_user(runtime, "stan", "client", password=True, account_id=standard)
    add_user(runtime, "mia", "manager")
    manager = token_for(runtime, "mia")

    assert _login(client, "vera").status_code == 200
    refused = _login(client, "stan")
    assert refused.status_code == 403
    assert "does not include the client portal" in refused.json()["error"]
    assert _login(client, "stan", "not the password!").status_code == 401  # no oracle
    stan_token = token_for(runtime, "stan")
    answer = post_gql(client, ME, token=stan_token)
    assert codes(answer) == ["FORBIDDEN"]
    assert "does not include the client portal" in answer["errors"][0]["message"]

    granted = post_gql(client, "mutation($a: UUID!) { grantPortalAccess(accountId: $a) "
                               "{ notificationId } }", token=manager, a=str(standard))
    assert not codes(granted)
    time.sleep(RECHECK)
    assert _login(client, "stan").status_code == 200
    assert not codes(post_gql(client, ME, token=stan_token))
    session = client.cookies.get("carelog_session")
    assert session

    post_gql(client, "mutation($a: UUID!) { revokePortalAccess(accountId: $a, "
                     "reason: \"contract ended\") { notificationId } }", token=manager,
             a=str(standard))
    time.sleep(RECHECK)  # another process's grant would be seen within the recheck interval
    assert codes(post_gql(client, ME)) == ["FORBIDDEN"]  # the session of a moment ago
    assert codes(post_gql(client, ME, token=stan_token)) == ["FORBIDDEN"]
    client.cookies.clear()
    assert not codes(post_gql(client, ME, token=token_for(runtime, "vera")))


def _mails(server: SmtpTestServer, count: int, seconds: float = 10.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while len(server.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [m.parsed().get_content() for m in server.received]


def _token(mail: str) -> str:
    found = re.search(r"/portal/confirm#token=(\S+)", mail)
    assert found, mail
    return found.group(1)


def _register(client: TestClient[Any], email: str) -> Any:
    return client.post("/portal/register", json={"email": email, "name": "Rita Reg"})


def _open_for_registration(runtime: Runtime, client: TestClient[Any], name: str, domain: str,
                           self_registration: bool = True) -> UUID:
    account = _account(runtime, name, "business")
    runtime.desk.set_email_domains(account_id=account, domains=[domain], actor="staff:ann")
    done = runtime.desk.grant_portal_access(account_id=account,
                                            self_registration=self_registration,
                                            actor="staff:ann")
    wait = post_gql(client, "query($n: Int) { queues(waitFor: $n) { line } }",
                    token=token_for(runtime, "mia"), n=done.notification_id)
    assert not codes(wait), wait
    return account


def test_g3_g4_self_registration_by_a_single_use_expiring_link(
        app_for: AppFor, clock: FakeClock) -> None:  # noqa: F811
    with smtp_server() as (server, port):
        runtime, client = app_for(email=EmailSettings(smtp_host="127.0.0.1", smtp_port=port,
                                                      smtp_security="none"))
        add_user(runtime, "mia", "manager")
        acme = _open_for_registration(runtime, client, "Acme", "acme.example")
        _open_for_registration(runtime, client, "Closed", "closed.example",
                               self_registration=False)

        answers = [_register(client, e) for e in (
            "rita@acme.example", "nobody@unknown.example", "carl@closed.example")]
        assert {a.status_code for a in answers} == {202}
        assert len({a.text for a in answers}) == 1  # the same answer whatever the address
        mails = _mails(server, 1)
        time.sleep(0.5)  # a mail to another address would have come by now
        assert [m.rcpt_tos for m in server.received] == [("rita@acme.example",)]
        secret = _token(mails[0])
        assert len(secret) >= 43  # 32 random bytes, url-safe base64

        logged = runtime.desk.recorder.select_notifications(start=None, limit=100_000)
        assert not any(secret.encode() in n.state for n in logged)  # stored hashed only

        short = client.post("/portal/confirm", json={"token": secret, "password": "short"})
        assert short.status_code == 400
        assert "12 characters" in short.json()["error"]
        done = client.post("/portal/confirm", json={"token": secret, "password": NEW_PASSWORD})
        assert done.status_code == 201, done.text
        assert done.json()["accountId"] == str(acme)
        signed_in = _login(client, "rita@acme.example", NEW_PASSWORD)
        assert signed_in.status_code == 200
        assert signed_in.json()["role"] == "client"
        assert runtime.desk.account(acme).contact_by_email("rita@acme.example") is not None

        reused = client.post("/portal/confirm", json={"token": secret, "password": NEW_PASSWORD})
        assert reused.status_code == 400
        assert "already used" in reused.json()["error"]
        forged = client.post("/portal/confirm", json={"token": "x" * 43, "password": NEW_PASSWORD})
        assert forged.status_code == 400
        assert "not valid" in forged.json()["error"]

        assert _register(client, "olga@acme.example").status_code == 202
        old = _token(_mails(server, 2)[1])
        clock.advance(timedelta(days=30))
        heads = runtime.desk.recorder.max_notification_id()
        expired = client.post("/portal/confirm", json={"token": old, "password": NEW_PASSWORD})
        assert expired.status_code == 400
        assert "expired" in expired.json()["error"]
        assert runtime.desk.recorder.max_notification_id() == heads  # nothing written
        assert _login(client, "olga@acme.example", NEW_PASSWORD).status_code == 401


def test_registration_is_rate_limited_per_address(app_for: AppFor) -> None:  # noqa: F811
    _, client = app_for(form_limit_per_address=2)
    assert [_register(client, "rita@acme.example").status_code for _ in range(3)] == [
        202, 202, 429]
    bad = client.post("/portal/register", json={"email": "not an address", "name": "x"})
    assert bad.status_code == 400
    assert client.post("/portal/register", content=b"{nope").status_code == 400

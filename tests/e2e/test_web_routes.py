"""The web pages' routes over HTTP, without a browser: who is sent where, the security headers,
shells without inline script or style, and the static modules."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from api.web.pages import HERE
from tests.e2e.users import PASSWORD, add_user

pytestmark = pytest.mark.e2e

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def page(client: TestClient[Any], path: str) -> Any:
    return client.get(path, follow_redirects=False)


def sign_in(client: TestClient[Any], username: str) -> None:
    answer = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


def test_the_development_administrator_sees_the_dashboard_with_a_strict_policy(
        client: TestClient[Any]) -> None:
    answer = page(client, "/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe" not in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/js/dashboard.js"></script>' in answer.text
    assert not INLINE_SCRIPT.search(answer.text)
    assert 'data-role="admin"' in answer.text


@pytest.mark.parametrize("name", sorted(p.name for p in (HERE / "templates").glob("*.html")))
def test_no_shell_holds_inline_script_or_style(name: str) -> None:
    text = (HERE / "templates" / name).read_text()
    assert not INLINE_SCRIPT.search(text)
    assert not INLINE_STYLE.search(text)


def test_without_a_session_every_page_but_sign_in_sends_to_sign_in(
        client: TestClient[Any], runtime: Runtime) -> None:
    add_user(runtime, "ann", "manager", password=True)
    some = uuid4()
    for path in ("/", f"/accounts/{some}", "/agent", f"/agent/cases/{some}", "/portal",
                 f"/portal/requests/{some}"):
        answer = page(client, path)
        assert answer.status_code in (302, 303), path
        assert answer.headers["location"] == f"/signin?next={path}"
    assert page(client, "/signin").status_code == 200
    assert page(client, "/accounts/not-a-uuid").status_code == 404


def test_each_role_lands_on_its_own_pages(client: TestClient[Any], runtime: Runtime) -> None:
    account_id = runtime.desk.open_account(
        name="Initech", tier="vip", manager="Anna Berg", currency="EUR",
        actor="system:test").ids["accountId"]
    add_user(runtime, "carl", "client", password=True, account_id=account_id)
    add_user(runtime, "ada", "agent", password=True, line=1)
    add_user(runtime, "ann", "manager", password=True)

    sign_in(client, "carl")
    for path in ("/", f"/accounts/{account_id}", "/agent"):
        assert page(client, path).headers["location"] == "/portal"
    portal = page(client, "/portal")
    assert portal.status_code == 200
    assert f'data-account-id="{account_id}"' in portal.text

    sign_in(client, "ada")
    assert page(client, "/").headers["location"] == "/agent"
    assert page(client, "/agent").status_code == 200
    assert page(client, "/portal").headers["location"] == "/"

    sign_in(client, "ann")
    assert page(client, "/").status_code == 200
    assert page(client, f"/accounts/{account_id}").status_code == 200


def test_modules_and_styles_are_served_as_themselves(client: TestClient[Any]) -> None:
    module = client.get("/static/js/api.js")
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert module.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/../pages.py").status_code == 404

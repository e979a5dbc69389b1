"""The web pages in real headless Chromium: a manager finds the reddest key account and its
drivers, an agent answers a Telegram message from the case page and the reply reaches the Bot
API, a client files a request in the portal and cannot reach another company's pages.
Screenshots of the main pages are saved (see tests/browser.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.app import create_app
from api.demo import DemoGenerator
from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.settings import EmailSettings, Settings
from integrations.telegram.webhook import SECRET_HEADER
from tests.browser import chromium, new_page, screenshot, wait_ready
from tests.conftest import START
from tests.e2e.test_telegram_flow import (
    GROUP,
    SECRET,
    T0,
    message,
    sent_texts,
    telegram_settings,
    until,
)
from tests.e2e.users import PASSWORD, add_user, token_for
from tests.live import live_server
from tests.smtp_server import SmtpTestServer, smtp_server
from tests.telegram_server import BotApiStub, bot_api_stub

pytestmark = pytest.mark.e2e

PORTFOLIO = """query($wait: Int) { portfolio(top: 200, waitFor: $wait) {
    rank accountId name score confirmedBand } }"""
DRIVERS = """query($id: UUID!) { account(id: $id) { health { drivers { name evidence } } } }"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with bot_api_stub(max_poll=0.3) as server:
        yield server


@pytest.fixture
def mail() -> Iterator[tuple[SmtpTestServer, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings], stub: BotApiStub,
             mail: tuple[SmtpTestServer, int]) -> Settings:
    return make_settings(backend, telegram=telegram_settings(stub), email=EmailSettings(
        smtp_host="127.0.0.1", smtp_port=mail[1], smtp_security="none"))


@pytest.fixture
def url(settings: Settings, runtime: Runtime) -> Iterator[str]:
    with live_server(create_app(settings, runtime=runtime)) as base:
        yield base


class Api:
    """GraphQL over HTTP with a bearer token, as a script or another system would call it."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30,
                                   headers={"Authorization": f"Bearer {token}"})

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.client.post("/graphql", json={"query": query,
                                                  "variables": variables}).json()
        assert not body.get("errors"), body["errors"]
        return dict(body["data"])


def sign_in(page: Page, url: str, path: str, username: str) -> None:
    """Open `path`, be sent to the sign-in page, sign in, land back on `path`."""
    page.goto(url + path)
    page.wait_for_url(lambda address: "/signin?next=" in address)
    wait_ready(page)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#signin button[type=submit]")
    page.wait_for_url(url + path)
    wait_ready(page)


def test_a_manager_finds_the_reddest_key_account_and_sees_its_drivers(
        url: str, runtime: Runtime, browser: Browser) -> None:
    DemoGenerator(runtime.desk, accounts=14, months=3, seed=5, until=START.date()).run()
    add_user(runtime, "ann", "manager", password=True)
    api = Api(url, token_for(runtime, "ann"))
    # A churn notice caps one account's score in the red (below 50) at once.
    head = runtime.desk.recorder.max_notification_id()
    entries = api(PORTFOLIO, wait=head)["portfolio"]
    noticed = api("""mutation($id: UUID!) { setRenewalRisk(accountId: $id, level: CHURN_NOTICE,
        note: "moving to a competitor") { notificationId } }""", id=entries[3]["accountId"])
    entries = api(PORTFOLIO, wait=noticed["setRenewalRisk"]["notificationId"])["portfolio"]
    reddest = min((e for e in entries if e["confirmedBand"] not in (None, "GREY")),
                  key=lambda e: (e["score"], e["rank"]))
    assert reddest["confirmedBand"] == "RED"

    watched = new_page(browser)
    page = watched.page
    sign_in(page, url, "/", "ann")
    response = page.request.get(url + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.locator("#portfolio tbody tr").count() == len(entries)
    screenshot(page, "dashboard")
    assert page.locator("#chart-health svg .line.c-red").count() == 1  # health history drawn

    page.click("#portfolio thead button[data-key=score]")
    first = page.locator("#portfolio tbody tr").first
    assert first.locator("th a").inner_text() == reddest["name"]
    assert "Red" in first.locator(".band").inner_text()
    assert page.get_attribute("#portfolio th:has(button[data-key=score])",
                              "aria-sort") == "ascending"

    first.locator("th a").click()
    page.wait_for_url(f"{url}/accounts/{reddest['accountId']}")
    wait_ready(page)
    drivers = api(DRIVERS, id=reddest["accountId"])["account"]["health"]["drivers"]
    assert drivers
    shown = page.locator("#drivers .driver-name").all_inner_texts()
    assert shown == [d["name"] for d in drivers]
    if any(d["evidence"] for d in drivers):  # the events behind them, with who and when
        assert page.locator("#drivers .evidence li").count() > 0
    assert page.inner_text("#title") == reddest["name"]
    # The room is live: a message posted elsewhere appears without a reload.
    api("""mutation($id: UUID!) { postToRoom(accountId: $id, text: "Call booked for Monday")
        { notificationId } }""", id=reddest["accountId"])
    page.locator("#room .text", has_text="Call booked for Monday").wait_for()
    screenshot(page, "account")

    phone = new_page(browser, phone=True)
    phone.page.context.add_cookies(page.context.cookies())
    phone.page.goto(url + "/")
    wait_ready(phone.page)
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page must not scroll sideways on a phone"
    screenshot(phone.page, "dashboard-phone")
    # The dashboard is live: a churn notice given elsewhere turns that row red without a reload.
    calm = next(e for e in entries if e["confirmedBand"] in ("GREEN", "YELLOW"))
    row = phone.page.locator("#portfolio tbody tr").filter(
        has=phone.page.locator("th a", has_text=calm["name"]))
    assert "Red" not in row.locator(".band").inner_text()
    api("""mutation($id: UUID!) { setRenewalRisk(accountId: $id, level: CHURN_NOTICE,
        note: "budget cut") { notificationId } }""", id=calm["accountId"])
    row.locator(".band", has_text="Red").wait_for(timeout=15_000)
    assert watched.errors == []
    assert phone.errors == []


def test_an_agent_answers_a_telegram_message_from_the_case_page(
        url: str, runtime: Runtime, browser: Browser, stub: BotApiStub,
        clock: FakeClock) -> None:
    add_user(runtime, "ada", "agent", password=True, line=1)
    admin = "root"
    add_user(runtime, admin, "admin")
    api = Api(url, token_for(runtime, admin))
    account_id = api("""mutation { openAccount(input: {name: "Globex Energy", tier: VIP,
        manager: "Anna Berg", occurredAt: "2026-01-05T09:00:00Z"}) { accountId } }""")[
        "openAccount"]["accountId"]
    code = api("""mutation($id: UUID!) { issueLinkCode(accountId: $id) { code } }""",
               id=account_id)["issueLinkCode"]["code"]
    clock.advance(timedelta(hours=1))
    hook = {SECRET_HEADER: SECRET}
    assert httpx.post(f"{url}/webhooks/telegram", json=message(1, 1, f"/link {code}", T0 + 60),
                      headers=hook).json()["status"] == "linked"
    question = "Our <b>export</b> stopped at 02:00 <script>alert(1)</script>"
    assert httpx.post(f"{url}/webhooks/telegram", json=message(2, 2, question, T0 + 120),
                      headers=hook).status_code == 200

    drafted = api("""mutation { draftArticle(input: {title: "Restarting a stopped export",
        body: "Open Exports and press Retry on the stopped export.", language: "en",
        topic: "export"}) { articleId } }""")["draftArticle"]["articleId"]
    api("""mutation($id: UUID!) { publishArticle(articleId: $id, visibility: PUBLIC) {
        notificationId } }""", id=drafted)

    watched = new_page(browser)
    page = watched.page
    sign_in(page, url, "/agent", "ada")
    row = page.locator("#queue tbody tr", has_text="Globex Energy")
    row.wait_for()
    # The queue follows `queueChanged`: a new case shows up without a reload.
    api("""mutation($id: UUID!) { openCase(input: {accountId: $id, channel: EMAIL,
        subject: "Invoice copy please", text: "Could you resend March?"}) { caseId } }""",
        id=account_id)
    page.locator("#queue tbody a", has_text="Invoice copy please").wait_for()
    screenshot(page, "queues")
    row = page.locator("#queue tbody tr", has_text="Our <b>export</b>")
    row.locator("th a").click()
    page.wait_for_url(lambda address: "/agent/cases/" in address)
    wait_ready(page)
    # The client's text is shown as it was sent: as text, never as markup.
    assert page.locator("#thread .text", has_text=question).count() == 1
    assert page.locator("#thread b, #thread script").count() == 0
    # The knowledge base suggests the article on exports; one click puts it into the reply.
    suggested = page.locator("#suggested summary", has_text="Restarting a stopped export")
    suggested.click()
    page.click("#suggested button:has-text('Use in reply')")
    assert page.input_value("#reply-text") == "Open Exports and press Retry on the stopped export."

    page.click("#assign")
    page.locator("#facts dd", has_text="ada").wait_for()
    assert page.locator("#assign").is_hidden()
    page.fill("#reply-text", "Fixed, please retry the export.")
    page.click("#reply button[type=submit]")
    page.locator("#thread .text", has_text="Fixed, please retry the export.").wait_for()
    until(lambda: (GROUP, "Fixed, please retry the export.") in sent_texts(stub))
    screenshot(page, "case")

    page.fill("#escalate-reason", "Needs the data team")
    page.click("#escalate button[type=submit]")
    page.locator("#facts", has_text="escalated").wait_for()
    page.fill("#feedback-area", "exports")
    page.fill("#feedback-title", "Resumable exports")
    page.fill("#feedback-text", "Restart an export where it stopped.")
    page.click("#feedback button[type=submit]")
    page.locator("#status", has_text="Done.").wait_for()
    page.click("#resolve button[type=submit]")
    page.locator("#facts", has_text="Resolved").wait_for()
    board = api("""query($id: UUID!) { feedbackBoard(filter: {accountId: $id}) {
        nodes { title } } }""", id=account_id)["feedbackBoard"]["nodes"]
    assert [f["title"] for f in board] == ["Resumable exports"]
    assert watched.errors == []


def _open_account(api: Api, name: str) -> str:
    return str(api("""mutation($name: String!) { openAccount(input: {name: $name, tier: VIP,
        manager: "Anna Berg"}) { accountId } }""", name=name)["openAccount"]["accountId"])


def test_a_client_registers_files_a_request_and_cannot_reach_another_company(
        url: str, runtime: Runtime, browser: Browser, mail: tuple[SmtpTestServer, int]) -> None:
    smtp = mail[0]
    add_user(runtime, "root", "admin")
    api = Api(url, token_for(runtime, "root"))
    ours = _open_account(api, "Initech")
    theirs = _open_account(api, "Umbrella Corp")
    foreign_case = api("""mutation($id: UUID!) { openCase(input: {accountId: $id, channel: EMAIL,
        subject: "Umbrella's secret outage", text: "confidential"}) { caseId } }""",
                       id=theirs)["openCase"]["caseId"]
    api("""mutation($id: UUID!) { setEmailDomains(accountId: $id, domains: ["initech.example"])
        { notificationId } }""", id=ours)
    granted = api("""mutation($id: UUID!) { grantPortalAccess(accountId: $id,
        selfRegistration: true) { notificationId } }""", id=ours)
    api("query($w: Int) { queues(waitFor: $w) { line } }",
        w=granted["grantPortalAccess"]["notificationId"])

    # Carl registers with his work address, gets the link by mail and chooses a password.
    watched = new_page(browser)
    page = watched.page
    page.goto(url + "/signin")
    wait_ready(page)
    page.click("text=Register for the portal")
    page.wait_for_url(url + "/portal/register")
    wait_ready(page)
    page.fill("#name", "Carl Client")
    page.fill("#email", "carl@initech.example")
    page.click("#register button[type=submit]")
    page.locator("#register-status", has_text="link to confirm it").wait_for()
    deadline = time.monotonic() + 15
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.05)
    (received,) = smtp.received
    link = re.search(r"/portal/confirm#token=(\S+)", received.parsed().get_content())
    assert link, received.parsed().get_content()
    page.goto(f"{url}/portal/confirm#token={link.group(1)}")
    wait_ready(page)
    assert "token" not in page.url  # the token leaves the address bar at once
    page.fill("#password", PASSWORD)
    page.fill("#repeat", PASSWORD)
    page.click("#confirm button[type=submit]")
    page.wait_for_url(url + "/portal")
    wait_ready(page)
    assert page.inner_text("#title") == "Initech: requests"
    page.fill("#subject", "Invoices show the wrong VAT")
    page.fill("#text", "Since March our invoices show 19 % instead of 7 %.")
    page.click("#new-request button[type=submit]")
    page.locator("#requests tbody a", has_text="Invoices show the wrong VAT").wait_for()
    page.fill("#chat-text", "Hello from the portal")
    page.click("#chat button[type=submit]")
    page.locator("#room .text", has_text="Hello from the portal").wait_for()
    screenshot(page, "portal")
    cases = api("""query($id: UUID!) { account(id: $id) { cases { nodes { id subject channel }
        } } }""", id=ours)["account"]["cases"]["nodes"]
    filed = next(c for c in cases if c["subject"] == "Invoices show the wrong VAT")
    assert filed["channel"] == "PORTAL"

    # Once answered, the client rates it from the request's page.
    api("""mutation($id: UUID!) { resolveCase(caseId: $id, resolution: "VAT fixed") {
        notificationId } }""", id=filed["id"])
    page.goto(f"{url}/portal/requests/{filed['id']}")
    wait_ready(page)
    page.check("#stars input[value='5']")
    page.fill("#rate-comment", "Quick & kind")
    page.click("#rate button[type=submit]")
    page.locator("#facts", has_text="5 / 5 · Quick & kind").wait_for()
    assert page.locator("#rate").is_hidden()

    # Staff pages send a client back to its portal; another company's request is not found.
    for path in ("/", f"/accounts/{theirs}", "/agent", f"/agent/cases/{foreign_case}"):
        page.goto(url + path)
        page.wait_for_url(url + "/portal")
    page.goto(f"{url}/portal/requests/{foreign_case}")
    wait_ready(page)
    assert page.inner_text("#title") == "Request not found"
    assert "Umbrella" not in page.content()
    answer = page.evaluate("""async (id) => (await (await fetch('/graphql', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({query:
        'query($id: UUID!) { account(id: $id) { name } room(accountId: $id) { messageCount } }',
        variables: {id}})})).json())""", theirs)
    assert answer["data"] is None or answer["data"].get("account") is None
    assert {e["extensions"]["code"] for e in answer["errors"]} == {"NOT_FOUND"}
    assert watched.errors == []


def test_pages_without_a_session_send_people_to_sign_in(url: str, runtime: Runtime,
                                                         browser: Browser) -> None:
    add_user(runtime, "ann", "manager", password=True)
    watched = new_page(browser)
    page = watched.page
    page.goto(url + "/")
    page.wait_for_url(url + "/signin?next=/")
    wait_ready(page)
    page.fill("#username", "ann")
    page.fill("#password", "wrong")
    page.click("#signin button[type=submit]")
    page.locator("#signin-error", has_text="wrong username or password").wait_for()
    screenshot(page, "signin")
    assert page.url == url + "/signin?next=/"


def test_the_product_role_reads_the_portfolio_without_alerts(
        url: str, runtime: Runtime, browser: Browser) -> None:
    runtime.desk.open_account(name="Initech", tier="vip", manager="Anna Berg", currency="EUR",
                              actor="system:test")
    add_user(runtime, "pia", "product", password=True)
    watched = new_page(browser)
    page = watched.page
    sign_in(page, url, "/", "pia")
    assert page.locator("#alerts").count() == 0
    assert page.locator("#tiles .tile").count() == 5
    assert watched.errors == []


def test_a_client_finds_articles_and_sees_only_its_own_announcements(
        url: str, runtime: Runtime, browser: Browser) -> None:
    """The portal searches the knowledge base, suggests articles while a request is typed, and
    shows the incident that affects the client's company, which reached its room, and not the
    one that affects another company."""
    add_user(runtime, "root", "admin")
    api = Api(url, token_for(runtime, "root"))
    ours = _open_account(api, "Initech")
    theirs = _open_account(api, "Umbrella Corp")
    for title, body, visibility in (
            ("Resetting two-factor authentication", "Open Settings, then Security <b>now</b>.",
             "PUBLIC"),
            ("Two-factor internals for agents", "Staff only: the 2FA recovery runbook.",
             "INTERNAL")):
        drafted = api("""mutation($t: String!, $b: String!) { draftArticle(input: {title: $t,
            body: $b, language: "en", topic: "login"}) { articleId } }""", t=title, b=body)
        api("""mutation($id: UUID!, $v: Visibility!) { publishArticle(articleId: $id,
            visibility: $v) { notificationId } }""", id=drafted["draftArticle"]["articleId"],
            v=visibility)
    start = START.isoformat()
    for title, account in (("Checkout errors for Initech", ours),
                           ("Umbrella's private outage", theirs)):
        last = api("""mutation($t: String!, $a: UUID!, $s: DateTime!) { publishAnnouncement(
            kind: INCIDENT, input: {title: $t, text: "We are on it.", startsAt: $s,
            accountIds: [$a]}) { notificationId } }""", t=title, a=account, s=start)
    add_user(runtime, "carl", "client", password=True, account_id=UUID(ours))

    watched = new_page(browser)
    page = watched.page
    sign_in(page, url, "/portal", "carl")
    page.locator("#announcements li", has_text="Checkout errors for Initech").wait_for()
    assert "Umbrella" not in page.inner_text("#announcements")
    # The reactor posted the incident into our room, and only ours.
    page.locator("#room .text", has_text="We are on it.").first.wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    posted = api("""query($a: UUID!) { room(accountId: $a) { messages { edges { node { channel
        text } } } } }""", a=ours)["room"]["messages"]["edges"]
    # Once in the room, and once by mail to Carl (the room shows every channel).
    assert sorted(e["node"]["channel"] for e in posted
                  if e["node"]["text"].endswith("We are on it.")) == ["EMAIL", "ROOM"]
    assert page.locator("#room .text", has_text="We are on it.").count() == 2

    page.fill("#kb-query", "two-factor")
    page.click("#kb-search button[type=submit]")
    results = page.locator("#kb-results summary")
    results.first.wait_for()
    assert results.all_inner_texts() == ["Resetting two-factor authentication"]
    results.first.click()
    assert page.locator("#kb-results .article-body").inner_text() == (
        "Open Settings, then Security <b>now</b>.")  # shown as text, never as HTML

    page.fill("#subject", "Cannot reset two-factor authentication")
    page.locator("#suggestions summary", has_text="Resetting two-factor").wait_for()
    assert "internals" not in page.inner_text("#suggestions")
    screenshot(page, "portal-knowledge-and-announcements")

    rooms = Api(url, token_for(runtime, "root"))("""query($a: UUID!, $b: UUID!, $w: Int) {
        a: room(accountId: $a, waitFor: $w) { messages { edges { node { text } } } }
        b: room(accountId: $b) { messages { edges { node { text } } } } }""",
                                                 a=ours, b=theirs,
                                                 w=last["publishAnnouncement"]["notificationId"])
    texts_b = [e["node"]["text"] for e in rooms["b"]["messages"]["edges"]]
    assert not any("Initech" in t for t in texts_b)
    assert watched.errors == []


def test_staff_write_articles_and_announce_planned_work_to_the_affected_plans(
        url: str, runtime: Runtime, browser: Browser) -> None:
    add_user(runtime, "mia", "manager", password=True)
    api = Api(url, token_for(runtime, "mia"))
    vip = _open_account(api, "Initech")
    standard = str(api("""mutation { openAccount(input: {name: "Small Shop", tier: STANDARD,
        manager: "Anna Berg"}) { accountId } }""")["openAccount"]["accountId"])

    watched = new_page(browser)
    page = watched.page
    sign_in(page, url, "/knowledge", "mia")
    page.fill("#draft-title", "Exporting invoices to CSV")
    page.fill("#draft-body", "Invoices, then Export, then CSV.")
    page.fill("#draft-topic", "billing")
    page.click("#draft button[type=submit]")
    row = page.locator("#articles tbody tr", has_text="Exporting invoices to CSV")
    row.locator("td", has_text="Draft").wait_for()
    row.locator("button", has_text="Publish for clients").click()
    row.locator("td", has_text="Published").wait_for()
    assert "Public" in row.inner_text()
    page.fill("#kb-query", "invoices csv")
    page.click("#kb-search button[type=submit]")
    page.locator("#articles tbody th", has_text="Exporting invoices").wait_for()
    screenshot(page, "knowledge")

    page.click("nav >> text=Announcements")
    page.wait_for_url(url + "/announcements")
    wait_ready(page)
    page.select_option("#kind", "MAINTENANCE")
    page.fill("#title", "Database upgrade on Sunday")
    page.fill("#text", "Sunday 02:00-04:00 UTC the API is read-only.")
    page.fill("#starts", "2026-12-13T02:00")
    page.fill("#ends", "2026-12-13T04:00")
    page.check("#plans input[value=VIP]")
    page.click("#publish button[type=submit]")
    announced = page.locator("#announcements tbody tr", has_text="Database upgrade on Sunday")
    announced.locator("td", has_text="accounts").wait_for(timeout=15_000)  # fanned out
    assert "1 accounts" in announced.inner_text()
    screenshot(page, "announcements")

    rooms = api("""query($a: UUID!, $b: UUID!) {
        a: room(accountId: $a) { messages { edges { node { channel text } } } }
        b: room(accountId: $b) { messages { edges { node { text } } } } }""", a=vip, b=standard)
    assert any(e["node"]["channel"] == "ROOM" and "read-only" in e["node"]["text"]
               for e in rooms["a"]["messages"]["edges"])
    assert not any("read-only" in e["node"]["text"] for e in rooms["b"]["messages"]["edges"])
    assert watched.errors == []


XSS = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


def test_f1_stored_scripts_are_shown_as_text_on_every_page(
        url: str, runtime: Runtime, browser: Browser, stub: BotApiStub,
        clock: FakeClock) -> None:
    """Matrix F1: script payloads in an account's name, a mail subject and body, a Telegram
    message, a chat message and a knowledge-base article are shown as text on the dashboard,
    the account page, the case page and the portal; nothing runs, nothing becomes markup."""
    add_user(runtime, "root", "admin", password=True)
    api = Api(url, token_for(runtime, "root"))
    account_id = _open_account(api, f"Evil {XSS} GmbH")
    api("""mutation($id: UUID!) { setEmailDomains(accountId: $id, domains: ["evil.example"])
        { notificationId } }""", id=account_id)
    mail = (f"From: Mallory <mallory@evil.example>\r\nTo: support@carelog.example\r\n"
            f"Subject: {XSS}\r\nMessage-ID: <xss-1@evil.example>\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            f"<p>Hello</p>{XSS}<svg onload=\"document.title='pwned'\"></svg>\r\n")
    answered = httpx.post(f"{url}/inbound/email", content=mail.encode(),
                          headers={"Content-Type": "message/rfc822"})
    assert answered.status_code in (200, 202), answered.text
    api("""mutation($id: UUID!, $t: String!) { postToRoom(accountId: $id, text: $t) {
        notificationId } }""", id=account_id, t=f"Room {XSS}")
    drafted = api("""mutation($t: String!, $b: String!) { draftArticle(input: {title: $t,
        body: $b, language: "en"}) { articleId } }""", t=f"Article {XSS}", b=f"Body {XSS}")
    api("""mutation($id: UUID!) { publishArticle(articleId: $id, visibility: PUBLIC) {
        notificationId } }""", id=drafted["draftArticle"]["articleId"])
    head = runtime.desk.recorder.max_notification_id()
    case_id = api("""query($id: UUID!, $w: Int) { account(id: $id, waitFor: $w) {
        cases(first: 5) { nodes { id } } } }""", id=account_id, w=head)["account"]["cases"][
        "nodes"][0]["id"]
    add_user(runtime, "eve", "client", password=True, account_id=UUID(account_id))

    def clean(page: Page) -> None:
        assert page.title() != "pwned"
        assert page.locator("main img[src=x], main script, main svg[onload]").count() == 0

    watched = new_page(browser)
    page = watched.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, url, "/", "root")
    page.locator("#portfolio tbody th", has_text="<script>").first.wait_for()
    clean(page)
    for path in (f"/accounts/{account_id}", f"/agent/cases/{case_id}", "/knowledge"):
        page.goto(url + path)
        wait_ready(page)
        page.locator("main", has_text="<script>").first.wait_for()
        clean(page)
    screenshot(page, "f1-knowledge")
    page.context.clear_cookies()

    sign_in(page, url, "/portal", "eve")
    page.locator("#room .text", has_text="Room <img").wait_for()
    page.fill("#kb-query", "article body")
    page.click("#kb-search button[type=submit]")
    page.locator("#kb-results summary", has_text="<script>").first.wait_for()
    clean(page)
    assert dialogs == []
    assert watched.errors == []

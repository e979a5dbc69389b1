"""Read models as pure folds of real CareDesk events into MemoryRows, and their helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from domain.application import RefusedChannelError
from domain.errors import InvalidInputError
from domain.values import Money
from projections.accounts import ACCOUNTS, CONTACTS, REVENUE, AccountsProjection
from projections.case_queues import (
    CASES,
    INTERACTIONS,
    CaseFilter,
    CaseQueuesProjection,
    CaseQueuesView,
)
from projections.money import ReportingRates, from_cents, to_cents
from projections.paging import MAX_PAGE, check_first, decode_cursor, encode_cursor
from projections.rows import MemoryRows
from projections.schema import Column, Table, from_sqlite
from tests.unit.helpers import CLIENT, STAFF, START, notifications

RATES = ReportingRates("EUR", {"USD": Decimal("0.9")})


def fold(desk, *projections):
    """Fold the whole log of `desk` into fresh MemoryRows, as a projector would."""
    rows = MemoryRows()
    for n in notifications(desk):
        event = desk.mapper.to_domain_event(n)
        for projection in projections:
            projection.apply(n.topic, event, rows, n.id)
    return rows


def accounts_rows(desk):
    return fold(desk, AccountsProjection(RATES))


def cases_rows(desk):
    return fold(desk, CaseQueuesProjection())


def revenue(desk, account_id, period, amount, currency="EUR"):
    desk.record_revenue(account_id=account_id, period=period,
                        mrr=Money(Decimal(amount), currency), actor=STAFF)


# Accounts ---------------------------------------------------------------------------------


def test_an_opened_account_has_a_row_without_revenue(desk, open_account):
    account_id = open_account(name="Acme GmbH", tier="business", manager="Ann")

    row = accounts_rows(desk).get(ACCOUNTS, str(account_id))

    assert row["name"] == "Acme GmbH"
    assert (row["tier"], row["manager"], row["currency"]) == ("business", "Ann", "EUR")
    assert (row["mrr_cents"], row["arr_cents"], row["arr_reporting_cents"]) == (0, 0, 0)
    assert row["revenue_period"] is None
    assert (row["churned"], row["contacts_count"]) == (False, 0)
    assert row["opened_at"] == START
    assert (row["version"], row["position"]) == (1, 1)


def test_arr_is_twelve_times_the_mrr_of_the_latest_period(desk, account_id):
    revenue(desk, account_id, "2026-01", "1000.00")
    revenue(desk, account_id, "2026-02", "1250.50")

    row = accounts_rows(desk).get(ACCOUNTS, str(account_id))

    assert row["revenue_period"] == "2026-02"
    assert row["mrr_cents"] == 125050
    assert row["arr_cents"] == 12 * 125050
    assert row["arr_reporting_cents"] == 12 * 125050


def test_an_older_period_recorded_later_does_not_override_the_latest(desk, account_id):
    revenue(desk, account_id, "2026-02", "2000")
    revenue(desk, account_id, "2025-11", "500")

    rows = accounts_rows(desk)

    row = rows.get(ACCOUNTS, str(account_id))
    assert (row["revenue_period"], row["mrr_cents"], row["arr_cents"]) == (
        "2026-02", 200000, 2400000)
    assert [r["period"] for r in rows.all(REVENUE)] == ["2025-11", "2026-02"]
    assert rows.get(REVENUE, str(account_id), "2025-11")["mrr_cents"] == 50000


def test_a_correction_of_the_latest_period_replaces_it(desk, account_id):
    revenue(desk, account_id, "2026-02", "2000")
    revenue(desk, account_id, "2026-02", "1800")

    rows = accounts_rows(desk)

    assert rows.get(ACCOUNTS, str(account_id))["arr_cents"] == 12 * 180000
    assert len(rows.all(REVENUE)) == 1


def test_reporting_arr_converts_at_the_fixed_rate(desk, open_account):
    account_id = open_account(currency="USD")
    revenue(desk, account_id, "2026-02", "1000", currency="USD")

    row = accounts_rows(desk).get(ACCOUNTS, str(account_id))

    assert row["arr_cents"] == 1_200_000
    assert row["arr_reporting_cents"] == 1_080_000


def test_contacts_count_goes_up_and_down(desk, account_id):
    ids = [desk.add_contact(account_id=account_id, name=name, email=f"{name}@client.example",
                            role="user", actor=STAFF).ids["contactId"]
           for name in ("bob", "carol", "dave")]
    desk.change_contact_role(account_id=account_id, contact_id=ids[1], role="champion",
                             actor=STAFF)
    desk.remove_contact(account_id=account_id, contact_id=ids[0], actor=STAFF)

    rows = accounts_rows(desk)

    assert rows.get(ACCOUNTS, str(account_id))["contacts_count"] == 2
    left = rows.get(CONTACTS, str(account_id), str(ids[0]))
    assert (left["active"], left["left_at"]) == (False, START)
    assert rows.get(CONTACTS, str(account_id), str(ids[1]))["role"] == "champion"
    assert rows.get(CONTACTS, str(account_id), str(ids[2]))["active"] is True


def test_a_contact_added_again_after_leaving_counts_once(desk, account_id):
    def add():
        return desk.add_contact(account_id=account_id, name="Bob", email="bob@client.example",
                                role="user", actor=STAFF).ids["contactId"]

    contact_id = add()
    desk.remove_contact(account_id=account_id, contact_id=contact_id, actor=STAFF)
    add()

    rows = accounts_rows(desk)
    assert rows.get(ACCOUNTS, str(account_id))["contacts_count"] == 1
    assert rows.get(CONTACTS, str(account_id), str(contact_id))["left_at"] is None


def test_tier_manager_and_churn_are_reflected(desk, clock, account_id):
    desk.change_tier(account_id=account_id, tier="enterprise", actor=STAFF)
    desk.assign_manager(account_id=account_id, manager="Carla", actor=STAFF)
    clock.advance(timedelta(days=3))
    desk.churn_account(account_id=account_id, reason="Budget cut", actor=STAFF)

    row = accounts_rows(desk).get(ACCOUNTS, str(account_id))

    assert (row["tier"], row["manager"]) == ("enterprise", "Carla")
    assert row["churned"] is True
    assert row["churned_at"] == START + timedelta(days=3)
    assert row["updated_at"] == START + timedelta(days=3)
    assert (row["version"], row["position"]) == (4, 4)


def test_the_accounts_fold_ignores_case_events(desk, account_id):
    desk.open_case(account_id=account_id, channel="email", subject="Help", text="Hi",
                   actor=CLIENT)

    rows = accounts_rows(desk)

    assert set(rows.tables) == {"accounts"}
    assert rows.get(ACCOUNTS, str(account_id))["position"] == 1


def test_an_account_event_without_its_opening_is_a_lookup_error(desk, account_id):
    revenue(desk, account_id, "2026-02", "10")
    recorded = notifications(desk)[-1]

    with pytest.raises(LookupError, match="no Opened event"):
        AccountsProjection(RATES).apply(recorded.topic, desk.mapper.to_domain_event(recorded),
                                        MemoryRows(), recorded.id)


def test_folding_the_same_log_twice_gives_the_same_rows(desk, account_id):
    revenue(desk, account_id, "2026-02", "10")
    desk.open_case(account_id=account_id, channel="email", subject="Help", text="Hi",
                   actor=CLIENT)
    both = (AccountsProjection(RATES), CaseQueuesProjection())

    assert fold(desk, *both).tables == fold(desk, *both).tables


# Case queues ------------------------------------------------------------------------------


@pytest.fixture
def case_id(desk, account_id):
    return desk.open_case(account_id=account_id, channel="email", subject="Cannot log in",
                          text="Hello", actor=CLIENT, priority="high",
                          topic="login").ids["caseId"]


def case_row(desk, case_id):
    return cases_rows(desk).get(CASES, str(case_id))


def test_an_opened_case_is_open_with_its_sla_due_times(desk, account_id, case_id):
    row = case_row(desk, case_id)

    assert row["account_id"] == str(account_id)
    assert (row["status"], row["line"], row["priority"], row["topic"]) == (
        "open", 1, "high", "login")
    assert row["opened_at"] == START
    # Standard, high: 8 and 96 business hours, Mon-Fri 09:00-18:00 Berlin from Mon 10:00.
    assert row["first_response_due"] == START + timedelta(hours=8)
    assert row["resolution_due"] == datetime(2026, 3, 16, 15, 0, tzinfo=UTC)
    assert (row["reply_count"], row["reopened_count"]) == (0, 0)
    assert row["first_response_at"] is None
    assert row["assignee"] is None


def test_first_response_is_measured_to_the_first_reply_only(desk, clock, case_id):
    clock.advance(timedelta(minutes=30))
    desk.reply_to_case(case_id=case_id, text="Looking into it", agent="Ann", actor=STAFF)
    clock.advance(timedelta(hours=2))
    desk.reply_to_case(case_id=case_id, text="Fixed", agent="Ann", actor=STAFF)

    row = case_row(desk, case_id)

    assert row["first_response_at"] == START + timedelta(minutes=30)
    assert row["first_response_seconds"] == 1800
    assert row["reply_count"] == 2
    assert row["last_activity_at"] == START + timedelta(hours=2, minutes=30)


def test_status_follows_resolve_reopen_and_close(desk, clock, case_id):
    clock.advance(timedelta(hours=1))
    desk.resolve_case(case_id=case_id, actor=STAFF)
    resolved = case_row(desk, case_id)
    assert (resolved["status"], resolved["resolved_at"]) == ("resolved",
                                                             START + timedelta(hours=1))

    desk.reopen_case(case_id=case_id, reason="Still broken", actor=CLIENT)
    reopened = case_row(desk, case_id)
    assert (reopened["status"], reopened["resolved_at"]) == ("open", None)
    assert reopened["reopened_count"] == 1

    clock.advance(timedelta(hours=1))
    desk.resolve_case(case_id=case_id, actor=STAFF)
    desk.reopen_case(case_id=case_id, actor=CLIENT)
    desk.resolve_case(case_id=case_id, actor=STAFF)
    desk.close_case(case_id=case_id, actor=STAFF)
    closed = case_row(desk, case_id)
    assert (closed["status"], closed["closed_at"]) == ("closed", START + timedelta(hours=2))
    assert closed["reopened_count"] == 2
    assert closed["resolved_at"] == START + timedelta(hours=2)


def test_assignment_escalation_and_rating_fields(desk, case_id):
    desk.assign_case(case_id=case_id, agent="Ann", actor=STAFF)
    desk.escalate_case(case_id=case_id, reason="Invoice wrong", department="Billing",
                       actor=STAFF)
    escalated = case_row(desk, case_id)
    assert escalated["assignee"] == "Ann"
    assert (escalated["line"], escalated["department"], escalated["escalated"]) == (
        2, "Billing", True)
    assert escalated["escalation_reason"] == "Invoice wrong"

    desk.resolve_escalation(case_id=case_id, note="Credited", actor=STAFF)
    desk.resolve_case(case_id=case_id, actor=STAFF)
    desk.rate_case(case_id=case_id, csat=4, comment="Good", actor=CLIENT)
    row = case_row(desk, case_id)
    assert (row["escalated"], row["line"], row["department"]) == (False, 2, "Billing")
    assert (row["csat"], row["csat_comment"]) == (4, "Good")
    assert row["version"] == 6


def test_interactions_are_kept_in_log_order(desk, clock, account_id, case_id):
    clock.advance(timedelta(minutes=5))
    desk.record_interaction(account_id=account_id, case_id=case_id, channel="portal",
                            direction="inbound", text="Screenshot attached", actor=CLIENT)
    desk.reply_to_case(case_id=case_id, text="Thanks", agent="Ann", actor=STAFF)
    with pytest.raises(InvalidInputError):
        desk.record_interaction(account_id=account_id, case_id=case_id, channel="email",
                                direction="inbound", text=" ", actor=CLIENT)

    rows = cases_rows(desk)

    thread = sorted((r for r in rows.all(INTERACTIONS) if r["case_id"] == str(case_id)),
                    key=lambda r: r["position"])
    assert [(r["channel"], r["direction"], r["text"]) for r in thread] == [
        ("email", "inbound", "Hello"), ("portal", "inbound", "Screenshot attached"),
        ("email", "outbound", "Thanks")]
    assert [r["sender"] for r in thread] == [CLIENT, CLIENT, "Ann"]
    assert all(r["account_id"] == str(account_id) for r in thread)


def test_a_message_on_a_refused_channel_is_a_row_without_a_case(desk, account_id):
    with pytest.raises(RefusedChannelError):
        desk.open_case(account_id=account_id, channel="telegram", subject="Hi", text="Hi",
                       actor=CLIENT)

    rows = cases_rows(desk)

    assert rows.all(CASES) == []
    (message,) = rows.all(INTERACTIONS)
    assert (message["case_id"], message["channel_allowed"]) == (None, False)


# Paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[123456, "b3f1"], ["Acme", "id-1"], [None, "x"],
                                    ["2026-03-02T09:00:00+00:00", "é ü 😀"]])
def test_a_cursor_decodes_to_the_values_it_was_made_from(values):
    cursor = encode_cursor("ARR_DESC", values)

    assert decode_cursor(cursor, "ARR_DESC", len(values)) == values
    assert "=" not in cursor


def test_a_cursor_of_another_ordering_is_refused():
    cursor = encode_cursor("NAME_ASC", ["Acme", "id-1"])

    with pytest.raises(InvalidInputError, match="another ordering") as info:
        decode_cursor(cursor, "ARR_DESC", 2)
    assert info.value.code == "INVALID_INPUT"


def test_a_cursor_with_the_wrong_number_of_values_is_refused():
    with pytest.raises(InvalidInputError, match="another ordering"):
        decode_cursor(encode_cursor("ARR_DESC", [1, "a", "extra"]), "ARR_DESC", 2)


@pytest.mark.parametrize("cursor", ["not a cursor!", "e30", "W10", "InN0cmluZyI", "////",
                                    "", "WyJBUlJfREVTQyIsMSwi", "\u00e9\u00e9\u00e9\u00e9"])
def test_a_forged_cursor_is_refused(cursor):
    with pytest.raises(InvalidInputError, match="cursor"):
        decode_cursor(cursor, "ARR_DESC", 2)


@pytest.mark.parametrize("opened", ["yesterday", 12345])
def test_a_case_cursor_with_a_bad_timestamp_is_refused(opened):
    view = CaseQueuesView(SimpleNamespace(dialect="sqlite"))
    forged = encode_cursor("OPENED_DESC", [opened, "case-id"])

    with pytest.raises(InvalidInputError):
        view.page(CaseFilter(), 10, forged)


@pytest.mark.parametrize("first", [1, 50, MAX_PAGE])
def test_check_first_accepts_page_sizes_from_one_to_the_maximum(first):
    assert check_first(first) == first


@pytest.mark.parametrize("first", [0, -1, MAX_PAGE + 1, 10_000])
def test_check_first_refuses_page_sizes_outside_the_bounds(first):
    with pytest.raises(InvalidInputError, match=f"between 1 and {MAX_PAGE}"):
        check_first(first)


# Money in cents ---------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "cents"), [
    ("0.005", 0), ("0.015", 2), ("0.025", 2), ("0.035", 4), ("1.005", 100),
    ("-0.005", 0), ("-0.015", -2), ("12.345", 1234), ("12.3451", 1235),
    ("1000", 100000), ("0", 0),
])
def test_to_cents_rounds_half_to_even(amount, cents):
    assert to_cents(Decimal(amount)) == cents


@pytest.mark.parametrize(("cents", "amount"), [(12345, "123.45"), (-1, "-0.01"), (0, "0.00"),
                                               (100, "1.00")])
def test_from_cents_gives_two_decimal_places(cents, amount):
    result = from_cents(cents)

    assert result == Decimal(amount)
    assert str(result) == amount


def test_cents_round_trip():
    for cents in (-100_001, -1, 0, 1, 99, 123_456_789):
        assert to_cents(from_cents(cents)) == cents


def test_reporting_rates_convert_into_the_reporting_currency():
    assert RATES.convert_cents(1000, "EUR") == 1000
    assert RATES.convert_cents(1000, "USD") == 900
    assert RATES.convert_cents(5, "USD") == 4  # 4.5 cents, half to even
    assert RATES.convert_cents(15, "USD") == 14  # 13.5 cents, half to even


# Schema -----------------------------------------------------------------------------------

TABLE = Table(
    "things",
    columns=(Column("account_id"), Column("id"), Column("count", "int"),
             Column("active", "bool"), Column("at", "timestamp")),
    key=("account_id", "id"),
    indexes=(("active", "at"),),
)


def test_create_statements_for_sqlite():
    table, index = TABLE.create_statements("sqlite")

    assert table == ("CREATE TABLE IF NOT EXISTS things (account_id TEXT, id TEXT, "
                     "count INTEGER, active INTEGER, at TEXT, PRIMARY KEY (account_id, id))")
    assert index == "CREATE INDEX IF NOT EXISTS things_active_at_idx ON things (active, at)"


def test_create_statements_for_postgres():
    table, index = TABLE.create_statements("postgres")

    assert table == ("CREATE TABLE IF NOT EXISTS things (account_id TEXT, id TEXT, "
                     "count BIGINT, active BOOLEAN, at TIMESTAMPTZ, "
                     "PRIMARY KEY (account_id, id))")
    assert index.endswith("ON things (active, at)")


@pytest.mark.parametrize("table", [ACCOUNTS, CONTACTS, REVENUE, CASES, INTERACTIONS])
def test_every_view_table_has_one_create_statement_per_index(table):
    for dialect in ("sqlite", "postgres"):
        statements = table.create_statements(dialect)
        assert len(statements) == 1 + len(table.indexes)
        assert f"PRIMARY KEY ({', '.join(table.key)})" in statements[0]


def test_upsert_updates_every_column_but_the_key():
    assert TABLE.upsert_statement() == (
        "INSERT INTO things (account_id, id, count, active, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (account_id, id) DO UPDATE SET count = excluded.count, "
        "active = excluded.active, at = excluded.at")


def test_upsert_of_a_key_only_table_does_nothing_on_conflict():
    keys = Table("tags", columns=(Column("a"), Column("b")), key=("a", "b"))

    assert keys.upsert_statement() == (
        "INSERT INTO tags (a, b) VALUES (?, ?) ON CONFLICT (a, b) DO NOTHING")


def test_select_and_delete_address_the_primary_key():
    assert TABLE.select_statement == (
        "SELECT account_id, id, count, active, at FROM things WHERE account_id = ? AND id = ?")
    assert TABLE.delete_statement() == "DELETE FROM things WHERE account_id = ? AND id = ?"


def test_sqlite_encoding_stores_utc_text_and_integer_booleans_and_decodes_back():
    at = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    row = {"account_id": "a", "id": "1", "count": 3, "active": True, "at": at}

    encoded = TABLE.encode(row, "sqlite")

    assert encoded == ["a", "1", 3, 1, "2026-03-02T09:30:00.000000+00:00"]
    decoded = TABLE.decode(dict(zip(TABLE.column_names, encoded, strict=True)), "sqlite")
    assert decoded == row
    assert decoded["at"].tzinfo is not None
    assert from_sqlite(None, "timestamp") is None


def test_sqlite_timestamps_sort_in_time_order():
    times = [datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 11, tzinfo=UTC),
             datetime(2026, 3, 2, 9, 45, tzinfo=timezone(timedelta(hours=1)))]  # 08:45 UTC

    texts = [TABLE.encode({"at": t}, "sqlite")[-1] for t in times]

    assert sorted(texts) == [texts[2], texts[0], texts[1]]


def test_postgres_encoding_passes_values_through_in_column_order():
    row = {"at": START, "active": False, "id": "1", "account_id": "a", "count": None}

    assert TABLE.encode(row, "postgres") == ["a", "1", None, False, START]


def test_memory_rows_keep_only_the_tables_columns_and_hand_out_copies():
    rows = MemoryRows()
    rows.put(TABLE, {"account_id": "a", "id": "1", "count": 1, "unknown": "dropped"})

    got = rows.get(TABLE, "a", "1")
    got["count"] = 99

    assert rows.get(TABLE, "a", "1") == {"account_id": "a", "id": "1", "count": 1,
                                         "active": None, "at": None}
    rows.delete(TABLE, "a", "1")
    assert rows.get(TABLE, "a", "1") is None

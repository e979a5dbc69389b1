"""Settings from CARELOG_* variables and an optional .env file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from integrations.settings import JiraSettings, Secret, Settings, SettingsError, TelegramSettings


def from_env(dotenv: Path | None = None, **variables: str) -> Settings:
    return Settings.from_env(environ=variables, dotenv=dotenv)


def test_defaults_run_embedded_in_development():
    settings = from_env()

    assert settings == Settings()
    assert settings.database_url is None
    assert settings.is_postgres is False
    assert settings.data_dir == Path("var")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.environment == "development"
    assert settings.is_production is False
    assert settings.currency == "EUR"
    assert settings.fx_rates == {}
    assert settings.currencies == frozenset({"EUR"})
    assert settings.key_accounts == 200
    assert settings.db_pool_size == 5
    assert settings.wait_timeout == 5.0
    assert settings.projection_page_size == 2000


def test_variables_without_the_carelog_prefix_are_ignored():
    assert from_env(PORT="9999", DATABASE_URL="mysql://x") == Settings()


def test_blank_values_count_as_unset():
    settings = from_env(CARELOG_DATABASE_URL="  ", CARELOG_PORT="", CARELOG_ENV=" ")

    assert settings == Settings()


def test_every_setting_is_read_from_its_variable():
    settings = from_env(
        CARELOG_DATABASE_URL="postgresql://carelog:secret@db:5432/carelog",
        CARELOG_DATA_DIR="/srv/carelog", CARELOG_HOST="0.0.0.0", CARELOG_PORT="8080",
        CARELOG_ENV="production", CARELOG_CURRENCY="usd", CARELOG_FX_RATES="EUR=1.08",
        CARELOG_KEY_ACCOUNTS="50", CARELOG_DB_POOL_SIZE="10", CARELOG_WAIT_TIMEOUT="2",
        CARELOG_PROJECTION_PAGE_SIZE="700",
    )

    assert settings.database_url == "postgresql://carelog:secret@db:5432/carelog"
    assert settings.is_postgres is True
    assert settings.data_dir == Path("/srv/carelog")
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.is_production is True
    assert settings.currency == "USD"
    assert settings.fx_rates == {"EUR": Decimal("1.08")}
    assert settings.currencies == frozenset({"USD", "EUR"})
    assert (settings.key_accounts, settings.db_pool_size) == (50, 10)
    assert settings.wait_timeout == 2.0
    assert settings.projection_page_size == 700


# Database URL -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:5432/carelog",
                                 "postgres://postgres@127.0.0.1/carelog"])
def test_a_postgresql_url_selects_postgres(url):
    assert from_env(CARELOG_DATABASE_URL=url).is_postgres is True


@pytest.mark.parametrize("url", ["sqlite:///var/events.sqlite3", "mysql://root@db/carelog",
                                 "127.0.0.1:5432", "POSTGRESQL://x/y", "var/events.db"])
def test_a_database_url_that_is_not_postgresql_is_refused(url):
    with pytest.raises(SettingsError, match=r"CARELOG_DATABASE_URL must be a postgresql://"):
        from_env(CARELOG_DATABASE_URL=url)


# Environment ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "production"), [("development", False),
                                                   ("production", True)])
def test_carelog_env_knows_development_and_production(value, production):
    assert from_env(CARELOG_ENV=value).is_production is production


@pytest.mark.parametrize("value", ["staging", "prod", "Production", "test"])
def test_any_other_carelog_env_is_refused(value):
    with pytest.raises(SettingsError, match="CARELOG_ENV must be development or production"):
        from_env(CARELOG_ENV=value)


# FX rates ---------------------------------------------------------------------------------


def test_fx_rates_parse_code_equals_rate_pairs():
    settings = from_env(CARELOG_FX_RATES=" usd=0.92 , GBP = 1.17,,")

    assert settings.fx_rates == {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}
    assert all(isinstance(rate, Decimal) for rate in settings.fx_rates.values())
    assert settings.currencies == frozenset({"EUR", "USD", "GBP"})


def test_a_rate_for_the_reporting_currency_itself_is_dropped():
    settings = from_env(CARELOG_CURRENCY="EUR", CARELOG_FX_RATES="EUR=2,USD=0.9")

    assert settings.fx_rates == {"USD": Decimal("0.9")}


@pytest.mark.parametrize("value", ["USD", "USD=", "USD=abc", "US=1", "USDX=1", "U1D=1",
                                   "=0.9", "USD=0", "USD=-0.9", "USD:0.9"])
def test_a_malformed_fx_rate_is_refused_naming_the_variable(value):
    with pytest.raises(SettingsError, match="CARELOG_FX_RATES") as info:
        from_env(CARELOG_FX_RATES=value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", ["USD=NaN", "USD=sNaN"])
def test_a_nan_fx_rate_is_refused_naming_the_variable(value):
    with pytest.raises(SettingsError, match="CARELOG_FX_RATES"):
        from_env(CARELOG_FX_RATES=value)


def test_an_infinite_fx_rate_is_refused():
    with pytest.raises(SettingsError, match="CARELOG_FX_RATES"):
        from_env(CARELOG_FX_RATES="USD=Infinity")


# Currency ---------------------------------------------------------------------------------


def test_the_reporting_currency_is_upper_cased():
    assert from_env(CARELOG_CURRENCY=" gbp ").currency == "GBP"


@pytest.mark.parametrize("value", ["euro", "E1", "12€"])
def test_a_reporting_currency_that_is_not_an_iso_code_is_refused(value):
    with pytest.raises(SettingsError, match="CARELOG_CURRENCY"):
        from_env(CARELOG_CURRENCY=value)


# Whole numbers ----------------------------------------------------------------------------

INTEGER_VARIABLES = ["PORT", "KEY_ACCOUNTS", "DB_POOL_SIZE", "PROJECTION_PAGE_SIZE",
                     "NATS_REPLICAS"]
SECONDS_VARIABLES = ["WAIT_TIMEOUT", "NATS_DUPLICATE_WINDOW"]


@pytest.mark.parametrize("name", INTEGER_VARIABLES)
@pytest.mark.parametrize("value", ["0", "-1", "-8000"])
def test_a_whole_number_setting_must_be_positive(name, value):
    with pytest.raises(SettingsError, match=f"CARELOG_{name} must be positive"):
        from_env(**{f"CARELOG_{name}": value})


@pytest.mark.parametrize("name", INTEGER_VARIABLES)
@pytest.mark.parametrize("value", ["abc", "8k", "1e3"])
def test_a_whole_number_setting_must_be_a_number(name, value):
    with pytest.raises(SettingsError, match=f"CARELOG_{name} must be a whole number"):
        from_env(**{f"CARELOG_{name}": value})


@pytest.mark.parametrize("name", SECONDS_VARIABLES)
@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf"])
def test_a_duration_must_be_a_positive_number_of_seconds(name, value):
    with pytest.raises(SettingsError, match=f"CARELOG_{name} must be a .*number of seconds"):
        from_env(**{f"CARELOG_{name}": value})


def test_nats_settings():
    settings = from_env(CARELOG_NATS_URL="nats://127.0.0.1:4222,nats://127.0.0.1:4223",
                        CARELOG_NATS_PREFIX="Carelog_Test", CARELOG_NATS_REPLICAS="3",
                        CARELOG_NATS_DUPLICATE_WINDOW="300")
    assert settings.is_distributed
    assert settings.nats_prefix == "carelog_test"
    assert (settings.nats_replicas, settings.nats_duplicate_window) == (3, 300.0)
    assert not from_env().is_distributed


@pytest.mark.parametrize(("name", "value"), [
    ("NATS_URL", "http://127.0.0.1:4222"), ("NATS_URL", "nats://a:1,redis://b"),
    ("NATS_PREFIX", "care.log"), ("NATS_PREFIX", "care>"),
])
def test_bad_nats_settings_name_the_variable(name, value):
    with pytest.raises(SettingsError, match=f"CARELOG_{name}"):
        from_env(**{f"CARELOG_{name}": value})


def test_the_wait_timeout_may_be_a_fraction_of_a_second():
    assert from_env(CARELOG_WAIT_TIMEOUT="0.5").wait_timeout == 0.5


def test_a_port_above_65535_is_refused():
    with pytest.raises(SettingsError, match="CARELOG_PORT"):
        from_env(CARELOG_PORT="70000")


# .env file --------------------------------------------------------------------------------


def test_values_from_the_dotenv_file_are_used(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# local settings\nCARELOG_PORT=9000\nCARELOG_ENV=production\n"
                      "CARELOG_FX_RATES=USD=0.9\nOTHER=ignored\n")

    settings = from_env(dotenv=dotenv)

    assert settings.port == 9000
    assert settings.is_production is True
    assert settings.fx_rates == {"USD": Decimal("0.9")}


def test_the_environment_wins_over_the_dotenv_file(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CARELOG_PORT=9000\nCARELOG_HOST=0.0.0.0\n")

    settings = from_env(dotenv=dotenv, CARELOG_PORT="9100")

    assert settings.port == 9100
    assert settings.host == "0.0.0.0"


def test_a_bad_value_in_the_dotenv_file_is_refused_like_one_in_the_environment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CARELOG_DATABASE_URL=sqlite:///x.db\n")

    with pytest.raises(SettingsError, match="CARELOG_DATABASE_URL"):
        from_env(dotenv=dotenv)


def test_a_missing_dotenv_file_is_fine(tmp_path):
    assert from_env(dotenv=tmp_path / "absent.env") == Settings()


def test_a_key_without_a_value_in_the_dotenv_file_counts_as_unset(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CARELOG_PORT\n")

    assert from_env(dotenv=dotenv).port == 8000


def test_the_answer_cache_may_be_turned_off_but_not_negative():
    assert from_env().answer_cache == 256
    assert from_env(CARELOG_ANSWER_CACHE="0").answer_cache == 0
    for bad in ("-1", "lots", "1.5"):
        with pytest.raises(SettingsError, match="CARELOG_ANSWER_CACHE"):
            from_env(CARELOG_ANSWER_CACHE=bad)


def test_jira_is_off_until_its_url_is_set():
    assert from_env().jira.enabled is False
    assert from_env().jira == JiraSettings()


def test_jira_settings_are_read_and_secrets_never_shown():
    jira = from_env(CARELOG_JIRA_URL="https://acme.atlassian.net/", CARELOG_JIRA_PROJECT="PROD",
                    CARELOG_JIRA_ISSUE_TYPE="Story", CARELOG_JIRA_USER="bot@acme.example",
                    CARELOG_JIRA_TOKEN="tok-123", CARELOG_JIRA_WEBHOOK_SECRET="hook-456",
                    CARELOG_JIRA_TIMEOUT="3.5", CARELOG_JIRA_RECONCILE_SECONDS="300",
                    CARELOG_JIRA_DECLINED_STATUSES="10003, 10004").jira

    assert jira.url == "https://acme.atlassian.net"
    assert (jira.project, jira.issue_type, jira.user) == ("PROD", "Story", "bot@acme.example")
    assert jira.token == Secret("tok-123")
    assert jira.webhook_secret is not None
    assert jira.webhook_secret.value == "hook-456"
    assert (jira.timeout, jira.reconcile_seconds) == (3.5, 300.0)
    assert jira.declined_statuses == frozenset({"10003", "10004"})
    shown = f"{jira!r} {jira} {from_env(CARELOG_JIRA_TOKEN='tok-123')!r}"
    assert "tok-123" not in shown
    assert "hook-456" not in shown


def test_bad_jira_settings_name_their_variable():
    with pytest.raises(SettingsError, match="CARELOG_JIRA_URL"):
        from_env(CARELOG_JIRA_URL="acme.atlassian.net")
    with pytest.raises(SettingsError, match="CARELOG_JIRA_TIMEOUT"):
        from_env(CARELOG_JIRA_TIMEOUT="soon")


TOKEN = "7000000001:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


def test_telegram_is_off_until_its_token_is_set():
    assert from_env().telegram == TelegramSettings()
    assert from_env().telegram.enabled is False
    assert from_env().telegram.secret_token is None


def test_telegram_settings_are_read_and_secrets_never_shown():
    telegram = from_env(CARELOG_TELEGRAM_TOKEN=TOKEN,
                        CARELOG_TELEGRAM_API_URL="http://127.0.0.1:8081/",
                        CARELOG_TELEGRAM_WEBHOOK_SECRET="hook_456-x",
                        CARELOG_TELEGRAM_MODE="Polling",
                        CARELOG_TELEGRAM_PUBLIC_URL="https://care.example.com/").telegram

    assert telegram.enabled
    assert telegram.api_url == "http://127.0.0.1:8081"
    assert telegram.mode == "polling"
    assert telegram.webhook_url == "https://care.example.com/webhooks/telegram"
    assert telegram.secret_token == Secret("hook_456-x")
    shown = f"{telegram!r} {telegram} {from_env(CARELOG_TELEGRAM_TOKEN=TOKEN)!r}"
    assert TOKEN not in shown
    assert "hook_456-x" not in shown


def test_without_a_webhook_secret_one_is_derived_from_the_token():
    derived = from_env(CARELOG_TELEGRAM_TOKEN=TOKEN).telegram.secret_token
    assert derived is not None
    assert derived == from_env(CARELOG_TELEGRAM_TOKEN=TOKEN).telegram.secret_token
    assert TOKEN not in derived.value
    assert len(derived.value) == 64
    other = from_env(CARELOG_TELEGRAM_TOKEN="7000000002:other").telegram.secret_token
    assert other != derived


def test_bad_telegram_settings_name_their_variable():
    for name, bad in (("TOKEN", "no-colon"), ("API_URL", "api.telegram.org"),
                      ("WEBHOOK_SECRET", "has space"), ("MODE", "push"),
                      ("PUBLIC_URL", "http://care.example.com"), ("TIMEOUT", "soon")):
        with pytest.raises(SettingsError, match=f"CARELOG_TELEGRAM_{name}"):
            from_env(**{"CARELOG_TELEGRAM_TOKEN": TOKEN, f"CARELOG_TELEGRAM_{name}": bad})

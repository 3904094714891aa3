"""Reading `CALLWRIGHT_*` variables: one meaning for booleans and numbers, clear errors."""

from __future__ import annotations

import pytest

from callwright.config import Settings
from callwright.integrations.webhooks import webhook_options_from_env
from callwright.observe.observer import ObserveOptions
from callwright.observe.redact import RedactionPolicy
from callwright.observe.tracing import otlp_endpoint
from callwright.observe.usage import PriceTable
from callwright.telephony.settings import TWILIO_API_BASE_URL, TelephonySettings


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_every_true_spelling_means_true_everywhere(value: str) -> None:
    env = {
        "CALLWRIGHT_COOKIE_SECURE": value,
        "CALLWRIGHT_KEEP_RAW_TRANSCRIPT": value,
        "CALLWRIGHT_RECORD_AUDIO": value,
        "CALLWRIGHT_SEMANTIC_ENDPOINTING": value,
    }
    settings = Settings.from_env(env)
    assert settings.security.cookie_secure is True
    assert RedactionPolicy.from_env(env).keep_raw_transcript is True
    assert ObserveOptions.from_env(env).record_audio is True
    assert settings.patience.complete_ms < settings.patience.incomplete_ms  # semantic on


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_every_false_spelling_means_false_everywhere(value: str) -> None:
    env = {
        "CALLWRIGHT_COOKIE_SECURE": value,
        "CALLWRIGHT_KEEP_RAW_TRANSCRIPT": value,
        "CALLWRIGHT_RECORD_AUDIO": value,
        "CALLWRIGHT_SEMANTIC_ENDPOINTING": value,
        "CALLWRIGHT_END_OF_TURN_MS": "700",
    }
    settings = Settings.from_env(env)
    assert settings.security.cookie_secure is False
    assert RedactionPolicy.from_env(env).keep_raw_transcript is False
    assert ObserveOptions.from_env(env).record_audio is False
    # Semantic endpointing off: every turn ends after CALLWRIGHT_END_OF_TURN_MS of silence.
    patience = settings.patience
    assert patience.complete_ms == patience.neutral_ms == patience.incomplete_ms == 700.0
    assert patience.max_ms == 700.0


def test_unset_and_empty_keep_the_defaults() -> None:
    assert Settings.from_env({}) == Settings.from_env({k: "" for k in ENV_NAMES})
    assert Settings.from_env({}).security.cookie_secure is None
    assert RedactionPolicy.from_env({"CALLWRIGHT_RETENTION_DAYS": ""}).retention_days == 30.0


def test_limits_turn_off_with_zero_or_none() -> None:
    env = {"CALLWRIGHT_MAX_CALLS": "none", "CALLWRIGHT_MAX_CALL_SECONDS": "0"}
    limits = Settings.from_env(env).limits
    assert limits.max_calls is None and limits.call.max_call_s is None
    assert RedactionPolicy.from_env({"CALLWRIGHT_RETENTION_DAYS": "off"}).retention_days is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CALLWRIGHT_RECORD_AUDIO", "maybe"),
        ("CALLWRIGHT_SEMANTIC_ENDPOINTING", "2"),
        ("CALLWRIGHT_END_OF_TURN_MS", "soon"),
        ("CALLWRIGHT_END_OF_TURN_MS", "-5"),
        ("CALLWRIGHT_PORT", "80.5"),
        ("CALLWRIGHT_MAX_REALTIME_FACTOR", "0.5"),
        ("CALLWRIGHT_TTS", "festival"),
        ("CALLWRIGHT_LLM_STALL_MS", "0"),
    ],
)
def test_a_bad_value_fails_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value, "CALLWRIGHT_TTS_BASE_URL": "http://tts.test/v1"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CALLWRIGHT_PRICES", "{not json"),
        ("CALLWRIGHT_PRICES", "[0.01]"),
        ("CALLWRIGHT_PRICES", '{"stt_per_hour": 1}'),
        ("CALLWRIGHT_PRICES", "/nonexistent/prices.json"),
        ("CALLWRIGHT_REDACT", "phone=shred"),
        ("CALLWRIGHT_RETENTION_DAYS", "a month"),
    ],
)
def test_a_bad_observability_value_fails_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        ObserveOptions.from_env({name: value})
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_text_settings_are_stripped_and_empty_means_unset() -> None:
    blank = {
        "CALLWRIGHT_TWILIO_ACCOUNT_SID": " ",
        "CALLWRIGHT_TWILIO_AUTH_TOKEN": "",
        "CALLWRIGHT_TWILIO_API_BASE_URL": "  ",
        "CALLWRIGHT_PUBLIC_BASE_URL": "",
        "CALLWRIGHT_OTLP_ENDPOINT": " ",
        "CALLWRIGHT_PRICES": " ",
    }
    assert TelephonySettings.from_env(blank) == TelephonySettings()
    assert TelephonySettings().twilio_api_base_url == TWILIO_API_BASE_URL
    assert otlp_endpoint(blank) is None
    assert PriceTable.from_env(blank) == PriceTable()
    set_ = {
        "CALLWRIGHT_TWILIO_ACCOUNT_SID": " AC123 ",
        "CALLWRIGHT_PUBLIC_BASE_URL": "https://calls.example ",
        "CALLWRIGHT_OTLP_ENDPOINT": " http://otel.test:4318/v1/traces",
    }
    telephony = TelephonySettings.from_env(set_)
    assert telephony.twilio_account_sid == "AC123"
    assert telephony.public_base_url == "https://calls.example"
    assert otlp_endpoint(set_) == "http://otel.test:4318/v1/traces"


def test_webhooks_need_a_secret_and_follow_the_redaction_switch() -> None:
    url = {"CALLWRIGHT_WEBHOOK_URL": "https://hooks.test/in"}
    with pytest.raises(ValueError, match="CALLWRIGHT_WEBHOOK_SECRET"):
        webhook_options_from_env({**url, "CALLWRIGHT_WEBHOOK_SECRET": " "})
    signed = {**url, "CALLWRIGHT_WEBHOOK_SECRET": "s3cret"}
    assert webhook_options_from_env(signed).redaction == RedactionPolicy()
    for raw in ("none", "OFF", " raw "):
        options = webhook_options_from_env({**signed, "CALLWRIGHT_WEBHOOK_REDACT": raw})
        assert options.redaction is None
    masked = webhook_options_from_env({**signed, "CALLWRIGHT_WEBHOOK_REDACT": "phone=mask"})
    assert masked.redaction is not None and masked.redaction.phone == "mask"
    with pytest.raises(ValueError, match="CALLWRIGHT_REDACT"):
        webhook_options_from_env({**signed, "CALLWRIGHT_WEBHOOK_REDACT": "phone=shred"})


ENV_NAMES = [
    "CALLWRIGHT_HOST",
    "CALLWRIGHT_PORT",
    "CALLWRIGHT_END_OF_TURN_MS",
    "CALLWRIGHT_TTS",
    "CALLWRIGHT_MAX_CALLS",
    "CALLWRIGHT_DRAIN_SECONDS",
    "CALLWRIGHT_COOKIE_SECURE",
    "CALLWRIGHT_SEMANTIC_ENDPOINTING",
    "CALLWRIGHT_LLM_BASE_URL",
]


def test_observability_and_the_database_come_from_the_same_settings() -> None:
    env = {
        "CALLWRIGHT_RECORD_AUDIO": "off",
        "CALLWRIGHT_RETENTION_DAYS": "7",
        "CALLWRIGHT_DATABASE_URL": "postgresql://db.test/calls",
    }
    settings = Settings.from_env(env)
    assert settings.observe.record_audio is False
    assert settings.observe.redaction.retention_days == 7.0
    assert settings.store_env == {"CALLWRIGHT_DATABASE_URL": "postgresql://db.test/calls"}
    assert Settings().store_env == {"CALLWRIGHT_DATABASE_URL": ""}  # SQLite in the data folder


def test_the_dead_air_policy_comes_from_the_environment() -> None:
    default = Settings.from_env({}).silence
    assert (default.reprompt_after_ms, default.max_reprompts) == (8000.0, 2)
    env = {"CALLWRIGHT_SILENCE_REPROMPT_SECONDS": "12.5", "CALLWRIGHT_SILENCE_MAX_REPROMPTS": "0"}
    silence = Settings.from_env(env).silence
    assert (silence.reprompt_after_ms, silence.max_reprompts) == (12500.0, 0)
    with pytest.raises(ValueError, match="CALLWRIGHT_SILENCE_REPROMPT_SECONDS"):
        Settings.from_env({"CALLWRIGHT_SILENCE_REPROMPT_SECONDS": "0"})

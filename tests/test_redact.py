"""Personal data never reaches logs, traces, the store's transcript or the API's exports."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from callwright.core.responder import CallInfo
from callwright.core.timeline import TurnTimeline
from callwright.observe.observer import Observability, ObservedStore, ObserveOptions
from callwright.observe.redact import (
    RedactingFilter,
    RedactionPolicy,
    Redactor,
    RetentionJob,
    install_log_redaction,
)
from callwright.observe.tracing import CallTracer
from callwright.store.base import CallRecord, Utterance
from callwright.store.sqlite import SqliteCallStore
from tests.conftest import api_only

PII = {
    "phone": "+1 (555) 867-5309",
    "dob": "March 3rd, 1985",
    "card": "4111 1111 1111 1111",
    "email": "ada.lovelace@example.org",
    "address": "42 Wallaby Way",
    "name": "Ada Lovelace",
    "marked": "Grace",
}
SECRETS = ["867-5309", "8675309", "1985", "4111", "ada.lovelace", "Wallaby", "Lovelace", "Grace"]
LINES = [
    f"Hi, my name is {PII['name']} and my number is {PII['phone']}.",
    f"I was born on {PII['dob']}, card {PII['card']}, email {PII['email']}.",
    f"I live at {PII['address']}. Also book it for {PII['marked']}.",
]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), (secret, text)


def words_in(value: Any) -> str:
    """The keys and strings of a decoded JSON value, without its numbers.

    A timestamp or a cost is not personal data, and its digits can spell a secret by chance
    ("1985" is in the end time 1796441985.9), so only text is checked.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(f"{words_in(k)} {words_in(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " ".join(words_in(v) for v in value)
    return ""


def test_each_kind_is_redacted_and_policies_apply() -> None:
    redactor = Redactor().for_call({"caller_name": PII["marked"]})
    for line in LINES:
        assert_clean(redactor.text(line))
    assert redactor.text(LINES[0]) == "Hi, my name is [NAME] and my number is [PHONE]."
    # What is not personal stays readable.
    assert redactor.text("We open at 8 on Monday, 2 people.") == "We open at 8 on Monday, 2 people."
    assert redactor.text("card 4111 1111 1111 1112") == "card [PHONE]"  # fails Luhn: not a card
    masked = Redactor(RedactionPolicy(phone="mask", card="mask", name="keep"))
    assert masked.text(f"call {PII['phone']}") == "call [PHONE …5309]"
    assert masked.text(f"my name is {PII['name']}") == f"my name is {PII['name']}"
    policy = RedactionPolicy.from_env(
        {"CALLWRIGHT_REDACT": "email=keep", "CALLWRIGHT_KEEP_RAW_TRANSCRIPT": "1"}
    )
    assert policy.email == "keep" and policy.keep_raw_transcript and policy.retention_days == 30
    with pytest.raises(ValueError):
        RedactionPolicy.from_env({"CALLWRIGHT_REDACT": "shoe=redact"})


def test_log_filter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    install_log_redaction(Redactor(), [handler])
    install_log_redaction(Redactor(), [handler])
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("caller said %r", LINES[1])
        try:
            raise ValueError(f"bad email {PII['email']}")
        except ValueError:
            logger.exception("failed for %s", PII["phone"])
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "[CARD]" in output and "[EMAIL]" in output and "ValueError" in output
    assert_clean(output)


def test_a_log_record_stays_one_line_whatever_a_stranger_put_in_it() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    install_log_redaction(Redactor(), [handler])
    logger = logging.getLogger("test.redact.lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        forged = 'md5"\nINFO callwright: all is well\r\x1b[1A\x1b[2K\x00\tend'
        logger.warning("sip: bad digest: %s", forged)
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert output.count("\n") == 1 and "\x1b" not in output and "\r" not in output
    assert output == (
        'sip: bad digest: md5"\\nINFO callwright: all is well\\r\\x1b[1A\\x1b[2K\\x00\tend\n'
    )


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[tuple[SqliteCallStore, Observability, str]]:
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    exporter = InMemorySpanExporter()
    options = ObserveOptions(redaction=RedactionPolicy(keep_raw_transcript=True))
    obs = Observability(options, tracer=CallTracer(exporter, batch=False))
    call = CallInfo("pii-call", "twilio", PII["phone"], {"caller_name": PII["marked"]})
    observer = obs.for_call(call)
    observer._store = store  # what attach() sets; no transport or models needed here
    view = ObservedStore(store, observer)
    await view.start_call(
        CallRecord(call.call_id, "twilio", PII["phone"], 1_700_000_000.0, dict(call.parameters))
    )
    for i, line in enumerate(LINES):
        await view.add_utterance(call.call_id, Utterance(i, "caller", line, start_ms=i * 1000.0))
        await view.add_event(call.call_id, "transcript", i * 1000.0 + 900, {"text": line})
    tool = {
        "name": "lookup",
        "arguments": {"dob": PII["dob"]},
        "result": [PII["email"]],
        "latency_ms": 40.0,
    }
    await view.add_event(call.call_id, "tool_call", 3500.0, tool)
    await view.add_timeline(
        call.call_id, TurnTimeline(1, speech_end_ms=900.0, first_audio_sent_ms=1500.0)
    )
    await view.end_call(call.call_id, "completed", f"goodbye {PII['name']}")
    yield store, obs, call.call_id
    spans = exporter.get_finished_spans()
    assert {s.name for s in spans} >= {"call", "turn 1", "tool lookup"}
    for span in spans:
        assert_clean(words_in(json.loads(json.dumps(dict(span.attributes or {}), default=str))))
        events = [dict(e.attributes or {}) for e in span.events]
        assert_clean(words_in(json.loads(json.dumps(events, default=str))))
    await store.close()


async def test_store_and_api_exports_are_redacted(
    seeded: tuple[SqliteCallStore, Observability, str],
) -> None:
    store, obs, call_id = seeded
    detail = await store.get_call(call_id)
    assert detail is not None
    stored = json.dumps(
        [detail.record.caller, detail.record.parameters, detail.record.end_reason]
        + [u.text for u in detail.utterances]
        + [dict(e.data) for e in detail.events]
    )
    assert_clean(stored)
    assert "[PHONE]" in stored and "[DOB]" in stored and "[ADDRESS]" in stored

    async with api_only(store, obs) as base, aiohttp.ClientSession() as http:
        for path in (f"/v1/calls/{call_id}", "/v1/calls"):
            async with http.get(f"{base}{path}") as response:
                assert response.status == 200
                exported = await response.json()
                assert_clean(words_in(exported))
                assert "[PHONE]" in words_in(exported)


async def test_raw_transcript_kept_only_where_configured_and_retention(
    seeded: tuple[SqliteCallStore, Observability, str],
) -> None:
    store, _, call_id = seeded
    raw = await store.get_raw_utterances(call_id)
    assert [u.text for u in raw] == LINES  # this policy keeps it
    await store.add_recording_chunk(call_id, 0, 0.0, 16000, b"\x00\x00" * 32)
    recent = RetentionJob(store, 30.0, clock=lambda: 1_700_000_000.0 + 29 * 86400)
    assert (await recent.run_once()).raw_utterances == 0
    expired = RetentionJob(store, 30.0, clock=lambda: 1_700_000_000.0 + 31 * 86400)
    result = await expired.run_once()
    assert (result.raw_utterances, result.recordings) == (3, 1)
    assert await store.get_raw_utterances(call_id) == []
    assert await store.get_recording(call_id) is None
    detail = await store.get_call(call_id)
    assert detail is not None and len(detail.utterances) == 3  # the redacted record stays


async def test_record_retention_deletes_whole_records_only_when_set(tmp_path: Path) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    started = 1_700_000_000.0
    await store.start_call(CallRecord("c", "websocket", None, started, {}))
    await store.add_utterance("c", Utterance(0, "caller", "my number is [PHONE]"))
    await store.end_call("c", "completed", "ok")
    at_400_days = started + 400 * 86400
    kept = RetentionJob(store, 30.0, clock=lambda: at_400_days)  # records: kept by default
    assert (await kept.run_once()).calls == 0 and await store.get_call("c") is not None
    young = RetentionJob(store, 30.0, clock=lambda: at_400_days, record_retention_days=401)
    assert (await young.run_once()).calls == 0 and await store.get_call("c") is not None
    due = RetentionJob(store, None, clock=lambda: at_400_days, record_retention_days=365)
    assert (await due.run_once()).calls == 1
    assert await store.get_call("c") is None
    await store.close()


def test_record_retention_is_read_from_the_environment() -> None:
    assert RedactionPolicy.from_env({}).record_retention_days is None
    days = {"CALLWRIGHT_RECORD_RETENTION_DAYS": "365"}
    assert RedactionPolicy.from_env(days).record_retention_days == 365.0
    off = {"CALLWRIGHT_RECORD_RETENTION_DAYS": "none"}
    assert RedactionPolicy.from_env(off).record_retention_days is None
    with pytest.raises(ValueError):
        RedactionPolicy.from_env({"CALLWRIGHT_RECORD_RETENTION_DAYS": "-3"})


async def test_default_policy_keeps_no_raw_transcript(tmp_path: Path) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    observer = Observability().for_call(CallInfo("c", "websocket"))
    view = ObservedStore(store, observer)
    await view.add_utterance("c", Utterance(0, "caller", LINES[0]))
    assert await store.get_raw_utterances("c") == []
    await store.close()


def test_common_words_after_i_am_are_not_names() -> None:
    redactor = Redactor()
    for line in ("I'm sorry, I'm not sure about that one.", "This is the front desk."):
        learned = redactor.learn(line)
        assert learned.text(line) == line and learned.names == ()
    learned = redactor.learn("My name is John Smith and I'm not sure of the date.")
    assert learned.text("John, I'm not sure.") == "[NAME], I'm not sure."


async def test_a_name_a_tool_was_given_is_redacted_in_the_store_the_trace_and_later_lines(
    tmp_path: Path,
) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    exporter = InMemorySpanExporter()
    obs = Observability(tracer=CallTracer(exporter, batch=False))
    observer = obs.for_call(CallInfo("tool-name", "twilio", None, {}))
    view = ObservedStore(store, observer)
    await view.start_call(CallRecord("tool-name", "twilio", None, 1_700_000_000.0, {}))
    # The caller never said "my name is": the name reached the call only as a tool argument.
    tool = {"name": "book", "arguments": {"name": PII["name"], "day": "Tuesday"}, "result": "ok"}
    await view.add_event("tool-name", "tool_call", 1000.0, tool)
    await view.add_utterance("tool-name", Utterance(0, "agent", "Thanks Ada, you're booked."))
    await view.end_call("tool-name", "completed", "done")
    detail = await store.get_call("tool-name")
    assert detail is not None
    stored = json.dumps([e.data for e in detail.events]) + detail.utterances[0].text
    assert "Lovelace" not in stored and "Ada" not in stored
    assert "Tuesday" in stored and '"book"' in stored  # the tool's own name is no person's
    spans = exporter.get_finished_spans()
    attributes = json.dumps([dict(s.attributes or {}) for s in spans], default=str)
    assert "tool book" in {s.name for s in spans} and "Lovelace" not in attributes
    await store.close()


async def test_the_text_a_failing_voice_was_given_stays_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from callwright.tts.base import TtsError
    from callwright.tts.fallback import FallbackTts
    from callwright.tts.normalize import SpeechNormalizer

    class Failing:
        name, sample_rate = "failing", 16000

        async def synthesize(self, text: str) -> AsyncIterator[Any]:
            raise TtsError("down")
            yield  # pragma: no cover

    class Quiet(Failing):
        name = "quiet"

        async def synthesize(self, text: str) -> AsyncIterator[Any]:
            import numpy as np

            yield np.zeros(160, np.int16)

    # What the voice gets is the reply after normalization: digits spelled out, which the log's
    # patterns no longer recognise as a phone number.
    spoken = SpeechNormalizer().prepare(f"Your number is {PII['phone']}", False)
    assert "five" in spoken
    with caplog.at_level(logging.WARNING):
        chunks = [c async for c in FallbackTts(Failing(), Quiet()).synthesize(spoken)]
    assert chunks and "failing failed" in caplog.text
    assert "five" not in caplog.text and spoken[:20] not in caplog.text


async def test_integration_events_of_a_call_know_the_names_it_learned(tmp_path: Path) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    async def sink(kind: str, data: dict[str, Any]) -> None:
        sent.append((kind, data))

    @dataclass
    class Stack:
        store: Any
        events: Any
        stt: Any = field(default_factory=lambda: SimpleNamespace(name="stt", sample_rate=16000))
        tts: Any = field(default_factory=lambda: SimpleNamespace(name="tts", sample_rate=16000))
        responders: Any = field(default_factory=lambda: SimpleNamespace(name="agent"))

    store = await SqliteCallStore.open(tmp_path / "calls.db")
    hub = Observability(ObserveOptions(record_audio=False))
    observer = hub.for_call(CallInfo("hook", "twilio", None, {}))
    line = SimpleNamespace(channel="twilio", input_sample_rate=8000, output_sample_rate=8000)
    view, _ = observer.attach(Stack(store, sink), cast(Any, line))
    await view.store.start_call(CallRecord("hook", "twilio", None, 1_700_000_000.0, {}))
    await view.store.add_utterance("hook", Utterance(0, "caller", f"My name is {PII['name']}."))
    # A handoff summary written later names the caller without saying "my name is" again.
    await view.events("handoff", {"summary": "Ada wants to move her Lovelace appointment."})
    assert sent and "Ada" not in json.dumps(sent) and "Lovelace" not in json.dumps(sent)
    assert "appointment" in sent[0][1]["summary"]
    await store.close()


def test_a_name_given_in_spanish_is_learned_and_redacted() -> None:
    for line, name in (
        ("Me llamo Carlos Mendoza.", "Mendoza"),
        ("Mi nombre es José Muñoz.", "Muñoz"),
    ):
        learned = Redactor().learn(line)
        assert name not in learned.text(line)
        assert learned.text(f"Gracias, {name.split()[0]}.") == "Gracias, [NAME]."
    assert Redactor().learn("me llamo la atención").names == ()  # no capitalized name


def test_names_joined_by_an_apostrophe_or_a_hyphen_are_redacted_whole_and_learned() -> None:
    for line, name in (
        ("Hi, my name is Siobhan O'Brien.", "O'Brien"),
        ("This is Mary-Jane Watson calling.", "Mary-Jane"),
        ("Name's Ada Lovelace.", "Lovelace"),
        ("Hello, this is Dr Okafor.", "Okafor"),
    ):
        learned = Redactor().learn(line)
        assert name not in learned.text(line), line
        assert name not in learned.text(f"Thanks {name}, one moment."), line
    assert Redactor().learn("I am A").names == ()  # a lone capital is no name to learn


def test_a_house_number_with_a_letter_and_a_phone_with_an_extension_are_redacted() -> None:
    redactor = Redactor()
    assert redactor.text("I live at 221B Baker Street, London.") == "I live at [ADDRESS], London."
    assert redactor.text("Call 555-010-0100x23 please.") == "Call [PHONE]x23 please."


async def test_a_name_learned_later_is_redacted_in_the_lines_already_stored(
    tmp_path: Path,
) -> None:
    # "Your full name?" answered with the name alone: a name only once a tool is given it.
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    observer = Observability().for_call(CallInfo("late-name", "twilio", None, {}))
    view = ObservedStore(store, observer)
    await view.start_call(CallRecord("late-name", "twilio", None, 1_700_000_000.0, {}))
    await view.add_utterance("late-name", Utterance(0, "agent", "Can I have your full name?"))
    await view.add_event("late-name", "transcript", 2000.0, {"text": "Ada Lovelace"})
    await view.add_utterance("late-name", Utterance(1, "caller", "Ada Lovelace"))
    tool = {"name": "verify", "arguments": {"name": "Ada Lovelace"}, "result": "ok"}
    await view.add_event("late-name", "tool_call", 3000.0, tool)
    await view.add_utterance("late-name", Utterance(2, "caller", "Tuesday, please."))
    await view.end_call("late-name", "completed", "done")
    detail = await store.get_call("late-name")
    assert detail is not None
    assert [u.text for u in detail.utterances] == [
        "Can I have your full name?", "[NAME]", "Tuesday, please."
    ]  # fmt: skip
    assert "Lovelace" not in json.dumps([e.data for e in detail.events])
    await store.close()


def test_a_late_name_is_looked_for_alone_in_what_was_stored() -> None:
    # What is stored was redacted already: only the new name changes it, as this policy says,
    # and a string without the name comes back as it was (the same object: nothing rebuilt).
    untouched = "Tuesday at 9, call [PHONE]."
    stored = {"text": "Thanks ADA, see you.", "n": 3, "more": [untouched, "ada's file"]}
    again = Redactor().names_again(["Ada"])
    redone = again(stored)
    assert redone == {"text": "Thanks [NAME], see you.", "n": 3,
                      "more": [untouched, "[NAME]'s file"]}  # fmt: skip
    assert redone["more"][0] is untouched
    masked = Redactor(RedactionPolicy(name="mask")).names_again(["Ada"])
    assert masked("Bye Ada") == "Bye [NAME A…]"
    assert Redactor(RedactionPolicy(name="keep")).names_again(["Ada"])("Bye Ada") == "Bye Ada"
    # Other kinds are not looked for again: the stored text had them redacted already.
    assert again("Ada, 555 010 0100") == "[NAME], 555 010 0100"


def test_a_capital_before_an_apostrophe_alone_is_no_name() -> None:
    learned = Redactor().learn("I'm O' uh, O'Brien.")
    assert "O" not in learned.names
    assert learned.text("Take vitamin B and call O'Brien.").startswith("Take vitamin B")

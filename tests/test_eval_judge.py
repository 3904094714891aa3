"""The eval suite's judge and scenario loader, on hand-made call records and files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from callwright.core.timeline import TurnTimeline
from callwright.evals.callers import PersonaCaller, spoken_date_of_birth, what_is_asked
from callwright.evals.cli import select_pairs
from callwright.evals.judge import judge, percentile, value_matches
from callwright.evals.scenario import ScenarioError, load_scenarios, parse_scenario, resolve_dates
from callwright.store.base import CallDetail, CallRecord, StoredEvent, Utterance

TUESDAY = dt.date(2026, 12, 1)


def record(
    tool_calls: tuple[dict[str, Any], ...] | list[dict[str, Any]] = (),
    agent: tuple[str, ...] | list[str] = (),
    events: tuple[str, ...] | list[str] = (),
    outcome: str = "completed",
    ttfa: tuple[float, ...] | list[float] = (),
) -> CallDetail:
    stored = [StoredEvent(i, "tool_call", 0.0, c) for i, c in enumerate(tool_calls)]
    stored += [StoredEvent(100 + i, kind, 0.0, {}) for i, kind in enumerate(events)]
    timelines = [TurnTimeline(turn_index=i, speech_end_ms=1000.0, first_audio_sent_ms=1000.0 + t)
                 for i, t in enumerate(ttfa)]  # fmt: skip
    return CallDetail(
        record=CallRecord("c1", "twilio", None, 0.0, status="ended", outcome=outcome),
        utterances=[Utterance(i, "agent", text) for i, text in enumerate(agent)],
        events=stored,
        timelines=timelines,
    )


def scenario(expect: dict[str, Any], **extra: Any) -> Any:
    data = {"name": "s", "caller": {"lines": [{"say": "Hi."}]}, "expect": expect, **extra}
    return parse_scenario(data, "suite.yaml", TUESDAY)


BOOKED = {"name": "book_appointment", "arguments": {"doctor": "nguyen", "date": "2026-12-10",
          "time": "11:00", "idempotency_key": "k"}, "result": {}, "error": None}  # fmt: skip


def test_a_matching_tool_call_passes_and_arguments_are_a_subset() -> None:
    wanted = {"name": "book_appointment", "arguments": {"doctor": "Nguyen", "time": "11:00"}}
    s = scenario({"tool_calls": [wanted]})
    assert judge(s.expect, record([BOOKED])).passed


def test_a_wrong_argument_fails_and_says_what_was_called() -> None:
    s = scenario({"tool_calls": [{"name": "book_appointment", "arguments": {"time": "10:00"}}]})
    verdict = judge(s.expect, record([BOOKED]))
    assert not verdict.passed
    assert "time='11:00'" in verdict.reasons[0] and "10:00" in verdict.reasons[0]


def test_a_failed_tool_call_does_not_count() -> None:
    s = scenario({"tool_calls": [{"name": "book_appointment"}]})
    failed = {**BOOKED, "error": "slot not available"}
    verdict = judge(s.expect, record([failed]))
    assert not verdict.passed and "slot not available" in verdict.reasons[0]


def test_forbidden_calls_escalation_outcome_words_and_latency_are_each_checked() -> None:
    s = scenario({"no_tool_calls": ["book_appointment"], "escalated": False,
                  "outcome": "completed", "says": ["Maple Street"],
                  "never_says": ["I'm not sure"], "ttfa_p95_ms": 800})  # fmt: skip
    good = record(agent=["We are at 120 Maple Street."], ttfa=[300.0, 500.0])
    assert judge(s.expect, good).passed
    bad = record([BOOKED], agent=["I'm not sure about that one."], events=["escalation"],
                 outcome="caller_hung_up", ttfa=[300.0, 900.0])  # fmt: skip
    reasons = judge(s.expect, bad).reasons
    assert len(reasons) == 6, reasons
    assert any("escalated" in r for r in reasons)
    assert any("caller_hung_up" in r for r in reasons)
    assert any("900 ms over the 800 ms" in r for r in reasons)
    assert any("never said /Maple Street/" in r for r in reasons)
    assert any("I'm not sure" in r for r in reasons)


def test_value_matching_rules() -> None:
    assert value_matches("Nguyen", "Doctor Nguyen")
    assert value_matches("dr smith", "Dr. Smith")
    assert not value_matches("Ng", "Nguyen")
    assert not value_matches("10:00", "11:00")
    assert value_matches(2, 2.0) and not value_matches(True, 1)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([float(v) for v in range(1, 21)], 95) == 19.0
    assert percentile([5.0], 95) == 5.0 and percentile([], 95) is None


def test_dates_are_relative_to_the_run() -> None:
    assert resolve_dates("{date:thursday}", TUESDAY) == "2026-12-03"
    assert resolve_dates("{spoken:thursday+7}", TUESDAY) == "Thursday, December 10th"
    assert resolve_dates("{date:tuesday}", TUESDAY) == "2026-12-08"  # never today
    assert resolve_dates("{spoken:today+2}", TUESDAY) == "Thursday, December 3rd"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"caller": {"lines": []}, "expect": {}}, r"suite\.yaml\.name: required"),
        ({"name": "x", "expect": {}}, r"\(x\)\.caller: required"),
        ({"name": "x", "caller": {"lines": [{"say": "a", "keys": "1"}]}, "expect": {}},
         r"\(x\)\.caller\.lines\[0\]\.say: give exactly one"),
        ({"name": "x", "caller": {"lines": [{"keys": "12a"}]}, "expect": {}},
         r"lines\[0\]\.keys: keypad keys"),
        ({"name": "x", "caller": {"lines": [{"say": "a"}]}, "expect": {"says": ["("]}},
         r"\(x\)\.expect\.says\[0\]: not a regular expression"),
        ({"name": "x", "caller": {"lines": [{"say": "a"}]}, "expect": {"escalated": "yes"}},
         r"\(x\)\.expect\.escalated: expected bool"),
        ({"name": "x", "caller": {"lines": [{"say": "a"}]}, "expect": {}, "conditions": ["fog"]},
         r"\(x\)\.conditions\[0\]: unknown condition 'fog'"),
        ({"name": "x", "caller": {"persona": {"name": "A"}}, "expect": {},
          "conditions": ["talk_over"]}, r"talk_over needs a scripted caller"),
        ({"name": "x", "caller": {"lines": [{"say": "a"}]}, "expect": {"tool_call": []}},
         r"\(x\)\.expect\.tool_call: unknown field"),
        ({"name": "x", "caller": {"lines": [{"say": "a"}]}, "expect": {}, "voice": "sapi:x"},
         r"\(x\)\.voice: voice 'sapi:x'"),
    ],
)  # fmt: skip
def test_bad_scenarios_name_the_file_and_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data, "suite.yaml", TUESDAY)


def test_loader_reads_lists_and_single_files_and_rejects_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "scenarios:\n  - name: one\n    caller: {lines: [{say: Hi}]}\n    expect: {}\n"
        "  - name: two\n    caller: {persona: {goal: Hi}}\n    expect: {}\n"
    )
    (tmp_path / "b.yml").write_text("name: three\ncaller: {lines: [{keys: '0'}]}\nexpect: {}\n")
    names = [s.name for s in load_scenarios(tmp_path, TUESDAY)]
    assert names == ["one", "two", "three"]
    (tmp_path / "c.yaml").write_text("name: one\ncaller: {lines: [{say: Hi}]}\nexpect: {}\n")
    with pytest.raises(ScenarioError, match=r"c\.yaml \(one\)\.name: 'one' is also in .*a\.yaml"):
        load_scenarios(tmp_path, TUESDAY)
    (tmp_path / "c.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"c\.yaml: not valid YAML"):
        load_scenarios(tmp_path, TUESDAY)


def test_the_clinic_suite_loads_with_at_least_60_pairs() -> None:
    suite = load_scenarios(Path(__file__).resolve().parent.parent / "examples/clinic/scenarios")
    pairs = sum(len(s.conditions) for s in suite)
    assert pairs >= 60
    assert sum("fast" in s.tags for s in suite) >= 3


def test_within_keeps_only_the_suites_own_pairs_of_those_conditions(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "scenarios:\n  - name: one\n    caller: {lines: [{say: Hi}]}\n    expect: {}\n"
        "    conditions: [clean, phone, lossy]\n"
        "  - name: two\n    caller: {lines: [{say: Hi}]}\n    expect: {}\n"
        "    conditions: [clean, noisy]\n"
    )
    suite = load_scenarios(tmp_path, TUESDAY)
    named = lambda pairs: [(s.name, c) for s, c in pairs]  # noqa: E731
    assert named(select_pairs(suite, within=["lossy"])) == [("one", "lossy")]
    assert named(select_pairs(suite, within=["clean", "noisy"])) == [
        ("one", "clean"),
        ("two", "clean"),
        ("two", "noisy"),
    ]
    # --conditions replaces a scenario's own; --within only narrows them.
    assert named(select_pairs(suite, ["lossy"])) == [("one", "lossy"), ("two", "lossy")]
    # --only takes a part of a name, or several (the pairs that failed).
    assert named(select_pairs(suite, only="tw", within=["clean"])) == [("two", "clean")]
    assert named(select_pairs(suite, only="one, two", within=["clean"])) == [
        ("one", "clean"),
        ("two", "clean"),
    ]
    assert named(select_pairs(suite, only="three", within=["clean"])) == []


async def test_persona_caller_answers_what_is_asked() -> None:
    caller = PersonaCaller({"goal": "I'd like to book.", "name": "John Smith",
                            "date_of_birth": "1990-07-04", "doctor": "Patel",
                            "day": "Friday", "time": "ten in the morning"})  # fmt: skip
    said = [
        "Hello, how can I help you today?",
        "Sure. First, what is your full name and date of birth?",
        "Thank you, John. Which doctor would you like to see? We have Doctor Patel or Park.",
        "What day would you like to come in?",
        "What time would suit you?",
        "Doctor Patel on Friday at ten. Shall I book it?",
        "Is there anything else I can help with?",
    ]
    lines = [await caller.next_line(s) for s in said]
    assert [line.say if line else None for line in lines] == [
        "I'd like to book.",
        "John Smith, born July fourth, nineteen ninety.",
        "Doctor Patel, please.",
        "Friday, please.",
        "ten in the morning would be good.",
        "Yes, that's right.",
        "No, that's everything. Thank you, goodbye.",
    ]
    assert await caller.next_line("Thank you for calling. Goodbye!") is None


async def test_persona_gives_its_name_when_asked_for_the_first_and_last_name() -> None:
    # The clinic's narrower question after a name and birthday it could not make out
    # (issue12-fast-espeak-caller-books): the caller said "could you say that again?" twice
    # and hung up.
    caller = PersonaCaller({"goal": "I'd like to book.", "name": "John Smith"})
    await caller.next_line("Hello, how can I help you today?")
    retry = "Sorry, I didn't catch that. What are your first and last name?"
    line = await caller.next_line(retry)
    assert line is not None and line.say is not None and "John Smith" in line.say
    assert what_is_asked("Could you give me your full legal name?") == "name"
    assert what_is_asked("What is your name, please?") == "name"
    assert what_is_asked("And your date of birth?") == "dob"


async def test_persona_says_no_to_a_read_back_of_another_day() -> None:
    wanted = dt.date.today() + dt.timedelta(days=9)
    misheard = wanted - dt.timedelta(days=1)
    said = f"{wanted:%A}, {wanted:%B} {wanted.day}"
    caller = PersonaCaller({"goal": "I'd like to book.", "day": said})
    await caller.next_line("Hello, how can I help you today?")
    line = await caller.next_line(
        f"So that's Doctor Nguyen on {misheard:%A}, {misheard:%B} {misheard.day} at two. "
        "Shall I book it?"
    )
    assert line is not None and line.say == f"No, {said}, please."
    line = await caller.next_line(
        f"So that's Doctor Nguyen on {wanted:%A}, {wanted:%B} {wanted.day} at two. Shall I book it?"
    )
    assert line is not None and line.say == "Yes, that's right."


async def test_persona_offered_the_keypad_for_the_time_types_its_hour_and_minutes() -> None:
    caller = PersonaCaller({"goal": "I'd like to book.", "time": "two in the afternoon"})
    await caller.next_line("Hello, how can I help you today?")
    line = await caller.next_line("What time in the afternoon would suit you?")
    assert line is not None and line.say == "two in the afternoon would be good."
    line = await caller.next_line(
        "Sorry, I still didn't get that. You can also type it on your keypad, the hour and "
        "then the minutes, like two three zero for half past two. Or say front desk to speak "
        "to a person."
    )
    assert line is not None and line.keys == "200#" and not line.say


def test_spoken_dates_of_birth_and_questions() -> None:
    assert spoken_date_of_birth("2000-10-01") == "October first, two thousand"
    assert spoken_date_of_birth("1965-06-02") == "June second, nineteen sixty-five"
    assert spoken_date_of_birth("2004-03-22") == "March twenty-second, two thousand and four"
    assert what_is_asked("Thanks. And your date of birth?") == "dob"
    assert what_is_asked("Got it. Would you like me to book that?") == "yes_no"


async def test_llm_caller_plays_the_persona_through_a_chat_endpoint() -> None:
    from callwright.evals.llm_caller import LlmCaller
    from tests.fakes.openai_server import start_fake_openai

    script = ["Hi, I'd like to book a checkup with Doctor Park.", "Bye now. [hang up]"]
    async with start_fake_openai(script) as fake:
        caller = LlmCaller({"goal": "book a checkup", "name": "Sarah"}, fake.base_url, "m")
        first = await caller.next_line("Hello, how can I help?")
        assert first is not None and first.say == script[0]
        assert await caller.next_line("Sure, what day?") is None
    system = fake.requests[0]["messages"][0]["content"]
    assert "book a checkup" in system and "Sarah" in system
    assert fake.requests[1]["messages"][-1] == {"role": "user", "content": "Sure, what day?"}


def test_compare_lists_newly_failing_and_passing_and_latency_drift() -> None:
    import io

    from callwright.evals.judge import JudgedState
    from callwright.evals.report import compare
    from callwright.evals.runner import PairResult

    def result(name: str, passed: bool, ttfa: float) -> PairResult:
        return PairResult(name, "clean", "v", "ws", passed, [], JudgedState(ttfa_ms=[ttfa]))

    previous = {"results": [
        {"scenario": "a", "condition": "clean", "passed": True, "ttfa_p95_ms": 400.0},
        {"scenario": "b", "condition": "clean", "passed": False, "ttfa_p95_ms": 500.0},
        {"scenario": "c", "condition": "clean", "passed": True, "ttfa_p95_ms": 300.0},
    ]}  # fmt: skip
    now = [result("a", False, 450.0), result("b", True, 500.0), result("c", True, 600.0),
           result("d", False, 100.0)]  # fmt: skip
    out = io.StringIO()
    summary = compare(now, previous, out)
    assert summary["newly_failing"] == ["a@clean"] and summary["newly_passing"] == ["b@clean"]
    assert summary["ttfa_p95_drift_ms_max"] == 300.0
    assert summary["ttfa_p95_drift_ms_median"] == 50.0
    assert "newly failing (1): a@clean" in out.getvalue()


def test_a_caller_turn_never_answered_is_over_any_latency_budget() -> None:
    s = scenario({"ttfa_p95_ms": 800})
    answered = record(ttfa=[300.0, 400.0, 500.0])
    assert judge(s.expect, answered).passed
    # The same call with one more caller turn the agent never answered: not a faster call.
    silent = record(ttfa=[300.0, 400.0, 500.0])
    silent.timelines.append(TurnTimeline(turn_index=3, speech_end_ms=9000.0))
    verdict = judge(s.expect, silent)
    assert not verdict.passed and verdict.state.unanswered == 1
    assert "1 caller turns never answered" in verdict.reasons[0]
    # A turn the caller cut off before any reply is not the agent's silence.
    cut = record(ttfa=[300.0, 400.0, 500.0])
    cut.timelines.append(TurnTimeline(turn_index=3, speech_end_ms=9000.0, interrupted=True))
    assert judge(s.expect, cut).passed

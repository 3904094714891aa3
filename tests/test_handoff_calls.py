"""Spoken calls that end up with a person: triggers, the context packet, the queue, the
callback offer, and a person at the console talking to the caller. Real models, real server.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest

from callwright.agent.stack import AgentStack
from callwright.audio.resample import resample
from callwright.handoff.desk import HandoffDesk
from callwright.handoff.options import HandoffOptions
from callwright.handoff.summary import LlmSummarizer
from callwright.handoff.triggers import EscalationOptions
from callwright.llm.openai_compat import LlmOptions
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine
from callwright.store.base import CallDetail
from callwright.stt.whisper import WhisperStt
from tests.conftest import brief_clinic, serve, word_overlap
from tests.conftest import finished_call as finished
from tests.fakes.console import console
from tests.fakes.openai_server import Reply, start_fake_openai
from tests.test_clinic_calls import CALLER_VOICE, transcript

ASK_FOR_A_PERSON = "Could I please speak to a real person?"
ACCEPT_CALLBACK = ScriptLine("Yes, please.", after_agent_says="call you back")


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic, desk and a one-word greeting."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("handoff-clinic")) as own:
        yield own


@asynccontextmanager
async def handoff_server(
    stack: AgentStack, events: list[tuple[str, dict[str, Any]]] | None = None, **changes: Any
) -> AsyncIterator[str]:
    """A server with its own (empty) handoff desk; `events` collects the webhooks' events."""

    async def collect(kind: str, data: dict[str, Any]) -> None:
        if events is not None:
            events.append((kind, data))

    own = dataclasses.replace(stack, desk=HandoffDesk(), events=collect, **changes)
    async with serve(own) as url:
        yield url


async def place(url: str, script: list[ScriptLine], hang_up: bool = True) -> CallReport:
    simulator = CallerSimulator(url, CALLER_VOICE, turn_timeout_s=30.0)
    return await simulator.run(script, hang_up=hang_up)


def events_of(detail: CallDetail, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in detail.events if e.kind == kind]


def agent_said(report: CallReport) -> str:
    return " ".join(str(e["text"]) for e in report.of_type("agent_text"))


# One spoken call per way a trigger reaches the session: caller words, the keypad, and the
# recognizer's confidences. Which words fire which trigger (frustration, loops, out of scope)
# is checked by text (tests/test_handoff_triggers.py), the clinic's replies included.
TRIGGER_CALLS = {
    "explicit_request": ([ScriptLine("Please transfer me to a human.")], None),
    "explicit_key": ([ScriptLine("zero", keys="0")], None),
    # Every real transcript counts as poorly heard with this floor: the test shows the
    # trigger counting real transcripts' confidences turn after turn, then firing. The
    # questions are ones the agent cannot answer: a turn it understood ends the run.
    "low_confidence": (
        [ScriptLine("What is the capital of France?"), ScriptLine("How tall is the Eiffel Tower?")],
        EscalationOptions(confidence_floor=1.01, low_confidence_turns=2),
    ),
}


@pytest.mark.parametrize("case", list(TRIGGER_CALLS))
async def test_each_trigger_fires_on_a_spoken_call(stack: AgentStack, case: str) -> None:
    script, options = TRIGGER_CALLS[case]
    changes: dict[str, Any] = {"escalation": options} if options else {}
    async with handoff_server(stack, **changes) as url:
        report = await place(url, script)
    detail = await finished(stack, report.call_id)
    escalations = events_of(detail, "escalation")
    expected = "explicit_request" if case == "explicit_key" else case
    assert [e["trigger"] for e in escalations] == [expected], transcript(detail)
    # Nobody is signed in to the console and a websocket call cannot be transferred:
    # the caller is offered a callback rather than left waiting for nobody.
    assert "Would you like us to call you back" in agent_said(report)
    assert len(events_of(detail, "handoff_context")) == 1
    if case == "low_confidence":
        assert "turns in a row were hard to understand" in escalations[0]["reason"]
        assert escalations[0]["detail"]["confidence"] < 1.0


async def test_the_context_packet_and_the_callback(stack: AgentStack) -> None:
    webhooks: list[tuple[str, dict[str, Any]]] = []
    async with handoff_server(stack, webhooks) as url:
        report = await place(
            url,
            [
                ScriptLine("I want to book an appointment with Doctor Nguyen."),
                ScriptLine("My name is John Smith and I was born on July fourth, nineteen ninety."),
                ScriptLine(ASK_FOR_A_PERSON),
                ACCEPT_CALLBACK,
            ],
            hang_up=False,
        )
    detail = await finished(stack, report.call_id)
    [packet] = events_of(detail, "handoff_context")
    assert packet["escalation"]["trigger"] == "explicit_request"
    assert packet["intent"] == "book an appointment"
    assert packet["identity"]["verified"] is True
    assert packet["identity"]["patient_id"] == "pat_john"
    # The simulator calls from Maria's number: a hint for the person, not an identity.
    assert packet["identity"]["number_registered_to"] == "Maria Garcia"
    assert packet["slots"]["doctor"] == "Doctor Nguyen"
    verified = [c for c in packet["tool_calls"] if c["name"] == "verify_identity"]
    assert verified and verified[0]["result"]["verified"] is True
    caller_lines = [t["text"] for t in packet["transcript"] if t["role"] == "caller"]
    assert len(caller_lines) == 3 and word_overlap(ASK_FOR_A_PERSON, caller_lines[-1]) >= 0.6
    assert packet["summary"].startswith("Verified caller")
    assert "wants to book an appointment" in packet["summary"]
    assert packet["summary"].endswith("Handed off because the caller asked for a person.")
    # The callback: recorded, sent to the integrations, and the call ends with it.
    [callback] = events_of(detail, "callback_requested")
    assert callback["number"] is not None
    assert [kind for kind, _ in webhooks] == ["handoff_requested", "callback_requested"]
    assert webhooks[1][1]["packet"]["call_id"] == report.call_id
    assert report.ended_by_agent
    assert detail.record.outcome == "callback_requested"
    # The turns the handoff answered have timelines like any other: all four were timed.
    timed = [t.turn_index for t in detail.timelines if t.ttfa_ms is not None]
    assert timed == [1, 2, 3, 4], [t.to_dict() for t in detail.timelines]


async def test_a_waiting_caller_hears_hold_audio_and_updates_then_a_callback_offer(
    stack: AgentStack,
) -> None:
    # Updates at 0 s and 3 s, the offer at 8 s: the second update has 5 s to spare.
    options = HandoffOptions(update_interval_s=3.0, wait_limit_s=8.0)
    async with handoff_server(stack, handoff=options) as url, console(url, "Sam") as sam:
        script = [
            ScriptLine(ASK_FOR_A_PERSON),
            ScriptLine("Yes, please.", after_agent_says="call you back instead"),
        ]
        report = await place(url, script, hang_up=False)
        waiting = await sam.waiting_call()
        await sam.wait_for("queue", waiting=[])  # gone from the queue once called back
    assert waiting["call_id"] == report.call_id
    assert waiting["packet"]["escalation"]["trigger"] == "explicit_request"
    detail = await finished(stack, report.call_id)
    updates = events_of(detail, "queue_update")
    assert len(updates) >= 2 and all(u["position"] == 1 for u in updates)
    said = agent_said(report)
    assert "I'll connect you with a member of our team" in said
    assert said.count("You're number 1 in line") >= 2
    # Hold audio between the announcements: the caller's line was never silent for long.
    audio = np.concatenate(report.turns[0].agent_audio)
    blocks = audio[: audio.size // 1600 * 1600].reshape(-1, 1600)  # 100 ms at 16 kHz
    audible = np.abs(blocks.astype(np.int32)).max(axis=1) > 200
    assert audio.size / 16000 >= options.wait_limit_s - 1.0
    assert audible.mean() > 0.85, f"audible {audible.mean():.0%} of the wait"
    assert events_of(detail, "callback_offered") and events_of(detail, "callback_requested")
    assert detail.record.outcome == "callback_requested"


async def test_a_person_picks_up_talks_with_the_caller_and_ends_the_call(
    stack: AgentStack, oracle_stt: WhisperStt
) -> None:
    human_line = "Hello, this is Dana from the front desk. How can I help you?"
    caller_line = "I have a question about my bill."
    chunks = [c async for c in CALLER_VOICE.synthesize(human_line)]
    human_audio = resample(np.concatenate(chunks), CALLER_VOICE.sample_rate, 16000)
    async with handoff_server(stack) as url, console(url, "Dana") as dana:
        simulator = CallerSimulator(url, CALLER_VOICE, turn_timeout_s=40.0)
        running = asyncio.create_task(simulator.run([ScriptLine(ASK_FOR_A_PERSON)], False))
        waiting = await dana.waiting_call()
        await dana.send({"type": "pickup", "call_id": waiting["call_id"]})
        picked = await dana.wait_for("picked_up")
        await asyncio.sleep(0.5)
        heard_before = sum(a.size for a in simulator.report.turns[0].agent_audio)
        await dana.speak(human_audio)
        await asyncio.sleep(1.0)
        from_dana = np.concatenate(simulator.report.turns[0].agent_audio)[heard_before:]
        audio_before = sum(a.size for a in dana.audio)
        await simulator.interject(caller_line)
        line = await dana.wait_for("transcript")
        from_caller = np.concatenate(dana.audio)[audio_before:]
        await dana.send({"type": "end_call"})
        await dana.wait_for("released", how="end_call")
        report = await running
    assert picked["packet"]["escalation"]["trigger"] == "explicit_request"
    assert [t["role"] for t in picked["transcript"]][:2] == ["agent", "caller"]
    heard = await oracle_stt.transcribe(from_dana)
    assert word_overlap(human_line, heard.text) >= 0.6, heard.text
    assert word_overlap(caller_line, line["text"]) >= 0.6, line["text"]
    assert from_caller.size >= 16000 and int(np.abs(from_caller).max()) > 1000
    detail = await finished(stack, report.call_id)
    kinds = [e.kind for e in detail.events]
    for kind in ("escalation", "queued", "human_joined", "human_ended"):
        assert kind in kinds, kinds
    assert (detail.record.outcome, detail.record.end_reason) == ("escalated", "ended by Dana")
    assert report.ended_by_agent


async def test_with_an_llm_the_summary_is_rewritten_by_it(stack: AgentStack) -> None:
    better = "Maria Garcia, not yet verified, asked for a person right after the greeting."
    async with start_fake_openai([Reply(better)]) as llm:
        summarizer = LlmSummarizer(LlmOptions(llm.base_url, "fake-model"))
        async with (
            handoff_server(stack, summarizer=summarizer) as url,
            console(url, "Sam") as sam,
        ):
            simulator = CallerSimulator(url, CALLER_VOICE, turn_timeout_s=30.0)
            running = asyncio.create_task(simulator.run([ScriptLine(ASK_FOR_A_PERSON)]))
            waiting = await sam.waiting_call()
            flow_summary = waiting["packet"]["summary"]
            for _ in range(100):  # the flow's summary first, the model's when it arrives
                latest = [e for e in sam.events if e["type"] == "queue" and e["waiting"]]
                if latest and latest[-1]["waiting"][0]["packet"]["summary_by"] == "llm":
                    break
                await asyncio.sleep(0.1)
            report = await running
        await summarizer.close()
    improved = latest[-1]["waiting"][0]["packet"]
    assert improved["summary"] == better and flow_summary.startswith("Unverified caller")
    # The model saw the packet (transcript, escalation), not the flow's summary.
    prompt = llm.requests[0]["messages"][-1]["content"]
    assert '"trigger": "explicit_request"' in prompt and '"summary"' not in prompt
    detail = await finished(stack, report.call_id)
    assert [e["summary"] for e in events_of(detail, "handoff_summary")] == [better]


class DeskThatFailsWhileHolding(HandoffDesk):
    """Takes the call into its queue, then its store goes away (a lost database connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    async def signed_in(self) -> int:
        return 1  # someone is on the console: the call is queued for them

    async def position(self, call_id: str) -> int | None:
        self.asked += 1
        if self.asked > 1:
            raise ConnectionError("the desk's database went away")
        return await super().position(call_id)


async def test_a_desk_that_fails_while_the_caller_holds_turns_into_a_callback_offer(
    stack: AgentStack,
) -> None:
    desk = DeskThatFailsWhileHolding()
    own = dataclasses.replace(stack, desk=desk)
    async with serve(own) as url:
        report = await place(url, [ScriptLine(ASK_FOR_A_PERSON), ACCEPT_CALLBACK])
    detail = await finished(stack, report.call_id)
    # The failure is on the call's record, and the caller was offered what needs no desk.
    errors = events_of(detail, "error")
    assert errors and errors[0]["stage"] == "handoff" and "database" in errors[0]["error"]
    said = agent_said(report)
    assert "I'll connect you with a member of our team" in said
    assert "Would you like us to call you back" in said
    assert events_of(detail, "callback_requested")
    assert detail.record.outcome == "callback_requested"


class FactsFail:
    """Forwards to the agent's responder, except that its account of the call raises."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def handoff_facts(self) -> dict[str, Any] | None:
        raise RuntimeError("the agent's own bug")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FactsFailFactory:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def for_call(self, call: Any) -> FactsFail:
        return FactsFail(self._inner.for_call(call))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_turn_that_fails_is_recorded_and_the_caller_is_asked_again(
    stack: AgentStack,
) -> None:
    own = dataclasses.replace(
        stack, desk=HandoffDesk(), responders=FactsFailFactory(stack.responders)
    )
    async with serve(own) as url:
        report = await place(url, [ScriptLine(ASK_FOR_A_PERSON)])
    detail = await finished(stack, report.call_id)
    errors = events_of(detail, "error")
    assert errors and errors[0]["stage"] == "turn" and "own bug" in errors[0]["error"]
    # Not silence: the agent asks the caller to say it again.
    assert "Could you say it again" in agent_said(report)


class RespondFails:
    """A responder whose answer to a caller fails mid-reply (the greeting works)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def respond(self, context: Any) -> AsyncIterator[Any]:
        if context.trigger != "call_start":
            raise RuntimeError("the model's server fell over")
        async for event in self._inner.respond(context):
            yield event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RespondFailsFactory(FactsFailFactory):
    def for_call(self, call: Any) -> RespondFails:  # type: ignore[override]
        return RespondFails(self._inner.for_call(call))


async def test_a_reply_that_fails_is_apologised_for_and_not_counted_as_an_answer(
    stack: AgentStack,
) -> None:
    own = dataclasses.replace(
        stack, desk=HandoffDesk(), responders=RespondFailsFactory(stack.responders)
    )
    async with serve(own) as url:
        report = await place(url, [ScriptLine("What are your opening hours?")])
    detail = await finished(stack, report.call_id)
    assert "trouble on my end" in agent_said(report)  # not silence
    assert events_of(detail, "reply_failed") == [{"turn": 1}]
    failed = [t for t in report.of_type("turn_timeline") if t.get("failed")]
    assert [t["turn_index"] for t in failed] == [1]  # what the benchmarks leave out of TTFA

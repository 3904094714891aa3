"""SIP calls from SIPp (Debian's sip-tester), a real SIP peer: answering, hang-up, re-INVITE,
CANCEL before the answer, malformed and oversized messages, digest authentication, and a
flood of INVITEs against the admission limit while another call goes on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from callwright.agent.stack import AgentStack
from tests.sip_peers import (
    SipServerUnderTest,
    demo_stack,
    run_sipp,
    scenario,
    sip_record,
    sip_server,
    write_mulaw_wav,
)

GOOD_SDP = "\n".join(
    [
        "v=0",
        "o=caller 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=audio 40000 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
    ]
)
GREETING = "thanks for calling"  # the demo agent's greeting says it


@pytest.fixture(scope="module")
async def server(stack: AgentStack) -> AsyncIterator[SipServerUnderTest]:
    async with sip_server(demo_stack(stack), ring_s=0.3) as running:
        yield running


@pytest.fixture()
def line_wav(tmp_path: Path) -> Path:
    # Low noise, not digital silence: a phone line always carries some.
    rng = np.random.default_rng(7)
    return write_mulaw_wav(tmp_path / "line.wav", rng.normal(0, 30, 8000 * 8))


async def sip_calls_with(stack: AgentStack, prefix: str) -> list[str]:
    """Outcomes of the recorded SIP calls whose Call-ID starts with `prefix`."""
    return [
        r.outcome or ""
        for r in await stack.store.list_calls(5000)
        if r.channel == "sip" and r.parameters.get("sip_call_id", "").startswith(prefix)
    ]


async def test_a_call_is_answered_greeted_reoffered_and_hung_up_by_the_caller(
    stack: AgentStack, server: SipServerUnderTest, tmp_path: Path, line_wav: Path
) -> None:
    call_id = uuid.uuid4().hex
    # The scenario checks our answers: PCMU chosen, the session timer accepted, and after the
    # re-INVITE offering PCMA first, PCMA answered; then its BYE gets 200.
    xml = scenario("call.xml", ("reinvite",), hold=3000, audio=line_wav)
    run = await run_sipp(xml, server.port, tmp_path, call_id=call_id)
    assert run.returncode == 0, run.output + run.errors
    detail = await sip_record(stack, f"{call_id}-1")
    assert (detail.record.channel, detail.record.outcome) == ("sip", "caller_hung_up")
    assert detail.record.parameters["codec"] == "PCMU"
    agent_lines = [u.text.lower() for u in detail.utterances if u.role == "agent"]
    assert agent_lines and GREETING in agent_lines[0]


async def test_cancel_before_the_answer_ends_the_attempt_without_a_call(
    stack: AgentStack, server: SipServerUnderTest, tmp_path: Path
) -> None:
    call_id = uuid.uuid4().hex
    run = await run_sipp(scenario("cancel.xml"), server.port, tmp_path, call_id=call_id)
    assert run.returncode == 0, run.output + run.errors  # 180, 200 to CANCEL, 487
    await asyncio.sleep(0.5)
    assert await sip_calls_with(stack, call_id) == []
    assert server.admission.reserved == 0 and server.admission.live == 0


BAD_INVITES = [
    ("oversized", "X-Padding: " + "a" * 9000, GOOD_SDP, 513),
    ("malformed header", "This line has no colon", GOOD_SDP, 400),
    (
        "unknown codec",
        "X-Case: codec",
        GOOD_SDP.replace(" 0\n", " 18\n").replace("0 PCMU", "18 G729"),
        488,
    ),
    ("malformed sdp", "X-Case: sdp", "this is not SDP", 400),
]


@pytest.mark.parametrize(("case", "header", "sdp", "status"), BAD_INVITES)
async def test_bad_invites_get_a_clear_refusal(
    server: SipServerUnderTest, tmp_path: Path, case: str, header: str, sdp: str, status: int
) -> None:
    xml = scenario("refused.xml", header=header, sdp=sdp, status=status)
    run = await run_sipp(xml, server.port, tmp_path, call_id=uuid.uuid4().hex)
    assert run.returncode == 0, case + run.output + run.errors
    assert server.admission.live == 0


async def test_bad_invites_do_not_disturb_a_call_in_progress(
    stack: AgentStack, server: SipServerUnderTest, tmp_path: Path, line_wav: Path
) -> None:
    held = uuid.uuid4().hex
    call = asyncio.create_task(
        run_sipp(scenario("call.xml", hold=8000, audio=line_wav), server.port,
                 tmp_path / "held", call_id=held)
    )  # fmt: skip
    for _ in range(100):
        if server.admission.live == 1:
            break
        await asyncio.sleep(0.1)
    assert server.admission.live == 1
    refusals = [
        run_sipp(scenario("refused.xml", header=header, sdp=sdp, status=status), server.port,
                 tmp_path / f"bad-{n}", call_id=uuid.uuid4().hex)
        for n, (_, header, sdp, status) in enumerate(BAD_INVITES)
    ]  # fmt: skip
    runs = await asyncio.gather(*refusals)
    assert [r.returncode for r in runs] == [0] * len(BAD_INVITES), [r.errors for r in runs]
    assert server.admission.live == 1  # every refusal came while the call was up
    finished = await call
    assert finished.returncode == 0, finished.output + finished.errors
    detail = await sip_record(stack, f"{held}-1")
    assert detail.record.outcome == "caller_hung_up"
    assert any(GREETING in u.text.lower() for u in detail.utterances if u.role == "agent")


async def test_a_flood_of_invites_is_refused_busy_while_a_call_goes_on(
    stack: AgentStack, server: SipServerUnderTest, tmp_path: Path, line_wav: Path
) -> None:
    server.admission.max_calls = 1
    try:
        held, flood = uuid.uuid4().hex, uuid.uuid4().hex
        call = asyncio.create_task(
            run_sipp(scenario("call.xml", hold=5000, audio=line_wav), server.port,
                     tmp_path / "held", call_id=held)
        )  # fmt: skip
        for _ in range(50):
            if server.admission.live == 1:
                break
            await asyncio.sleep(0.1)
        invite = scenario("refused.xml", header="X-Flood: 1", sdp=GOOD_SDP, status=486)
        refused = await run_sipp(
            invite, server.port, tmp_path / "flood", calls=40, rate=20, call_id=flood
        )
        assert refused.returncode == 0, refused.output + refused.errors  # all 40: 486
        finished = await call
    finally:
        server.admission.max_calls = None
    assert finished.returncode == 0, finished.output + finished.errors
    detail = await sip_record(stack, f"{held}-1")
    assert detail.record.outcome == "caller_hung_up"
    assert any(GREETING in u.text.lower() for u in detail.utterances if u.role == "agent")
    outcomes = await sip_calls_with(stack, flood)
    assert outcomes == ["rejected"] * 40


async def test_without_allow_list_only_digest_credentials_get_in(
    stack: AgentStack, tmp_path: Path, line_wav: Path
) -> None:
    async with sip_server(demo_stack(stack), allow_from=(), users={"trunk": "s3cret"}) as guarded:
        # No credentials from an address on no allow-list: 401 with a challenge.
        bare = scenario("refused.xml", header="X-Case: anonymous", sdp=GOOD_SDP, status=401)
        run = await run_sipp(bare, guarded.port, tmp_path / "bare", call_id=uuid.uuid4().hex)
        assert run.returncode == 0, run.output + run.errors
        # The right password answers the challenge and the call goes through.
        call_id = uuid.uuid4().hex
        xml = scenario("call.xml", ("auth",), hold=1500, audio=line_wav, password="s3cret")
        run = await run_sipp(xml, guarded.port, tmp_path / "good", call_id=call_id)
        assert run.returncode == 0, run.output + run.errors
        assert (await sip_record(stack, f"{call_id}-1")).record.outcome == "caller_hung_up"
        # A wrong one is refused (403) and never becomes a call.
        wrong = uuid.uuid4().hex
        xml = scenario("refused.xml", ("auth",), header="X-Case: wrong", sdp=GOOD_SDP,
                       status=403, password="guess")  # fmt: skip
        run = await run_sipp(xml, guarded.port, tmp_path / "wrong", call_id=wrong)
        assert run.returncode == 0, run.output + run.errors
        assert await sip_calls_with(stack, wrong) == []


# Session timers with a short interval: the server's Min-SE is SESSION_S, and a caller that
# does not refresh is hung up on a third of the interval before it expires (RFC 4028 10).
SESSION_S = 6
HANGUP_AFTER_S = SESSION_S - SESSION_S / 3


async def test_session_refreshes_by_update_and_reinvite_keep_the_call_up(
    stack: AgentStack, tmp_path: Path, line_wav: Path
) -> None:
    async with sip_server(demo_stack(stack), min_session_expires_s=SESSION_S) as timed:
        call_id = uuid.uuid4().hex
        # 422 for 3 s; then refreshes every 2 s (UPDATE, then re-INVITE), each 2xx repeating
        # the interval; the caller hangs up after 6 s, past the unrefreshed hang-up time.
        xml = scenario("timer.xml", ("refresh",), short=3, se=SESSION_S, gap=2000,
                       audio=line_wav)  # fmt: skip
        run = await run_sipp(xml, timed.port, tmp_path, call_id=call_id)
        assert run.returncode == 0, run.output + run.errors
        detail = await sip_record(stack, f"{call_id}-1")
    assert detail.record.outcome == "caller_hung_up"
    assert detail.record.ended_at is not None
    assert detail.record.ended_at - detail.record.started_at > HANGUP_AFTER_S


async def test_a_session_never_refreshed_is_ended_with_a_bye_and_recorded(
    stack: AgentStack, tmp_path: Path, line_wav: Path
) -> None:
    async with sip_server(demo_stack(stack), min_session_expires_s=SESSION_S) as timed:
        call_id = uuid.uuid4().hex
        xml = scenario("timer.xml", ("expire",), short=3, se=SESSION_S, wait=30_000,
                       audio=line_wav)  # fmt: skip
        run = await run_sipp(xml, timed.port, tmp_path, call_id=call_id, timeout_s=45)
        assert run.returncode == 0, run.output + run.errors  # our BYE came and got its 200
        detail = await sip_record(stack, f"{call_id}-1")
    assert detail.record.outcome == "session_expired"
    assert detail.record.end_reason == f"no session refresh within {SESSION_S} s (RFC 4028)"
    assert detail.record.ended_at is not None
    # Not before the timer's hang-up time (the timer starts just before the call does).
    assert detail.record.ended_at - detail.record.started_at > HANGUP_AFTER_S - 0.5

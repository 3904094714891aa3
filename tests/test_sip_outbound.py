"""Placing a call over SIP through the outbound-call API: SIPp answers as the callee, the
agent speaks first, and the call ends with a BYE the callee acknowledges."""

from __future__ import annotations

import asyncio
from pathlib import Path

from callwright.agent.stack import AgentStack
from tests.conftest import finished_call, operator_http
from tests.fakes.twilio_rest import consent_to_calls
from tests.sip_peers import demo_stack, free_port, sip_server


async def test_outbound_call_over_sip_is_answered_and_greeted(
    stack: AgentStack, tmp_path: Path
) -> None:
    callee_port = free_port()
    callee = await asyncio.create_subprocess_exec(
        "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(callee_port), "-mp", str(free_port()),
        "-m", "1", "-nostdin", "-nr", "-timeout", "40s", "-timeout_error", cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with sip_server(
            demo_stack(stack), outbound_proxy=f"127.0.0.1:{callee_port}"
        ) as server:
            await consent_to_calls(stack.store, "+14155550123")  # compliance, as for Twilio
            body = {"to": "+14155550123", "from": "+14155550100", "transport": "sip"}
            async with operator_http() as http:
                async with http.post(f"{server.url}/v1/calls/outbound", json=body) as response:
                    assert response.status == 201, await response.text()
                    call_id = (await response.json())["call_id"]
            for _ in range(300):  # the callee answers, then the opening is spoken
                detail = await stack.store.get_call(call_id)
                if detail is not None and any(u.role == "agent" for u in detail.utterances):
                    break
                await asyncio.sleep(0.1)
            assert server.admission.live == 1
        # Leaving the server ends the call (server_shutdown): BYE, which the callee answers.
        assert await asyncio.wait_for(callee.wait(), 20) == 0
    finally:
        if callee.returncode is None:
            callee.kill()
            await callee.wait()
    detail = await finished_call(stack, call_id)
    assert detail.record.parameters["direction"] == "outbound"
    # Both parties' numbers, as on an inbound call (recording consent looks at both; the
    # record keeps them redacted).
    assert {"to", "from"} <= set(detail.record.parameters)
    assert detail.record.outcome == "server_shutdown"
    # A SIP call is a phone call: it opens with the disclosure, and the callee, in California
    # (all-party consent), is asked before anything is recorded.
    opening = [u.text.lower() for u in detail.utterances if u.role == "agent"]
    assert opening and opening[0].startswith("this call is recorded")
    assert "okay with you if we record" in opening[0]
    assert [e.data["consent_asked"] for e in detail.events if e.kind == "disclosure"] == [True]

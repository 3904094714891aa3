"""The LLM-guided receptionist against a scripted OpenAI-compatible server.

The model fills slots and picks tools through function calling; the flow's policy still
decides: tools are offered by node, a tool the node does not allow is refused, and nothing
irreversible runs before the caller's own "yes".
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from callwright.llm.openai_compat import LlmOptions
from examples.clinic.factory import ClinicOptions, open_clinic
from examples.clinic.llm_path import ClinicLlmResponderFactory
from tests.fakes.clinic import MONDAY, start
from tests.fakes.openai_server import FakeOpenAI, FakeToolCall, Reply, ScriptItem, start_fake_openai

BOOK = FakeToolCall(
    "book_appointment", {"doctor": "Dr. Pattel", "date": "2026-11-25", "time": "14:30"}
)
VERIFY = FakeToolCall("verify_identity", {"name": "Maria Garcia", "dob": "1984-03-12"})


@asynccontextmanager
async def llm_clinic(
    tmp_path: Path, script: Sequence[ScriptItem]
) -> AsyncIterator[tuple[FakeOpenAI, ClinicLlmResponderFactory]]:
    async with start_fake_openai(script) as fake:
        options = ClinicOptions(db_path=tmp_path / "clinic.sqlite3", today=lambda: MONDAY)
        llm = LlmOptions(base_url=fake.base_url, model="fake-model")
        factory = ClinicLlmResponderFactory(await open_clinic(options), options, llm)
        try:
            yield fake, factory
        finally:
            await factory.close()


def offered(request: dict[str, object]) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools", [])}  # type: ignore[attr-defined]


async def test_llm_books_through_function_calling_within_the_policy(tmp_path: Path) -> None:
    script: list[ScriptItem] = [
        [BOOK],  # tries to book before verifying: refused
        [VERIFY],
        [FakeToolCall("check_availability", {"doctor": "Patel", "date": "2026-11-25"})],
        Reply("Let me book that.", [BOOK]),  # held for the caller's yes
        [BOOK],  # a later turn asks for the same booking again
    ]
    async with llm_clinic(tmp_path, script) as (fake, clinic):
        talk = await start(clinic, "llm-1")
        reply = await talk.say(
            "Hi, this is Maria Garcia, born March 12 1984. Can I see Doctor Patel on "
            "Wednesday at two thirty?"
        )
        refused, held = [r for r in talk.tool_results if r.call.name == "book_appointment"]
        assert held.error is None and held.result["status"] == "awaiting_confirmation"
        assert refused.error is not None and refused.error.startswith("refused")
        assert "identity not verified" in refused.error
        assert reply.endswith(
            "So that's Doctor Patel on Wednesday the twenty fifth at half past two. "
            "Shall I book it?"
        )
        # Tools are offered by node: nothing about appointments before verification.
        assert "book_appointment" not in offered(fake.requests[0])
        assert "list_appointments" not in offered(fake.requests[0])
        assert {"book_appointment", "list_appointments"} <= offered(fake.requests[2])
        # The refusal went back to the model as a tool result.
        tool_messages = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
        assert "refused" in json.loads(tool_messages[0]["content"])["error"]
        assert len(fake.requests) == 4  # the model does not speak for the confirmation
        assert await clinic.data.store.appointments("pat_maria") == []

        reply = await talk.say("Yes, please.")
        assert reply.startswith("You're all set with Doctor Patel on Wednesday")
        assert len(fake.requests) == 4  # the yes is checked without the model
        [booked] = await clinic.data.store.appointments("pat_maria")
        assert booked.start == dt.datetime(2026, 11, 25, 14, 30) and booked.doctor_id == "patel"

        # The model asks to book the same thing again; confirmed again, it still books once.
        await talk.say("Can you make sure that's booked?")
        await talk.say("Yes.")
        assert len(await clinic.data.store.appointments("pat_maria")) == 1


async def test_llm_cannot_read_patient_data_or_skip_confirmation(tmp_path: Path) -> None:
    script: list[ScriptItem] = [
        [FakeToolCall("list_appointments", {})],
        "I need to verify your identity first. What is your full name and date of birth?",
        [FakeToolCall("cancel_appointment", {"appointment_id": "apt_x"})],
        "Sorry, I can't do that yet.",
    ]
    async with llm_clinic(tmp_path, script) as (fake, clinic):
        await clinic.data.store.book(
            "pat_maria", "patel", dt.datetime(2026, 11, 24, 9, 0), "seed-llm"
        )
        talk = await start(clinic, "llm-2")
        reply = await talk.say("What are my appointments?")
        assert reply.startswith("I need to verify your identity first")
        assert talk.result_of("list_appointments").error.startswith("refused")
        await talk.say("Cancel it.")
        assert talk.result_of("cancel_appointment").error.startswith("refused")
        [kept] = await clinic.data.store.appointments("pat_maria")
        assert kept.status == "booked"
        assert len(fake.requests) == 4


async def test_guardrails_run_before_the_model(tmp_path: Path) -> None:
    async with llm_clinic(tmp_path, []) as (fake, clinic):
        talk = await start(clinic, "llm-3")
        await talk.say("My husband has chest pain and can't breathe")
        assert talk.ended is not None and talk.ended.reason == "emergency"
        assert fake.requests == []


async def test_llm_reschedules_and_cancels_after_confirmation(tmp_path: Path) -> None:
    from examples.clinic.store import ClinicStore

    seed = await ClinicStore.open(tmp_path / "clinic.sqlite3")
    apt = await seed.book("pat_david", "patel", dt.datetime(2026, 11, 24, 10, 0), "seed-llm-2")
    await seed.close()
    script: list[ScriptItem] = [
        [FakeToolCall("verify_identity", {"name": "David Miller", "dob": "1965-06-02"})],
        [FakeToolCall("list_appointments", {})],
        [
            FakeToolCall(
                "reschedule_appointment",
                {"appointment_id": apt.id, "date": "2026-11-26", "time": "15:00"},
            )
        ],
        [FakeToolCall("cancel_appointment", {"appointment_id": apt.id})],
        "Okay, I'll leave it as it is.",
    ]
    async with llm_clinic(tmp_path, script) as (fake, clinic):
        talk = await start(clinic, "llm-4")
        reply = await talk.say("David Miller, June 2 1965. Move my Tuesday visit to Thursday at 3.")
        assert reply.endswith(
            "I'll move your appointment to Thursday the twenty sixth at three. Shall I go ahead?"
        )
        listed = talk.result_of("list_appointments").result["appointments"]
        assert [a["id"] for a in listed] == [apt.id]
        assert (await clinic.data.store.get(apt.id)).start == apt.start  # not yet
        reply = await talk.say("Yes")
        assert reply.startswith("Done. Your appointment is now on Thursday the twenty sixth")
        assert (await clinic.data.store.get(apt.id)).start == dt.datetime(2026, 11, 26, 15, 0)

        reply = await talk.say("Actually, just cancel it.")
        assert reply == (
            "Just to confirm, you want to cancel your appointment on Thursday the twenty sixth "
            "at three?"
        )
        reply = await talk.say("No, keep it.")  # a no goes back to the model
        assert reply == "Okay, I'll leave it as it is."
        assert (await clinic.data.store.get(apt.id)).status == "booked"
        assert len(fake.requests) == 5

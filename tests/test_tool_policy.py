"""Tool policy in code, whatever the model writes: a node's `confirm` holds its tools, a node
that `requires_identity` runs only identifying tools until one succeeded, what is read back is
what runs, and arguments outside the tool's schema never reach it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Literal

import pytest

from callwright import Agent, CallInfo, ToolCall, tool
from callwright.agents.gated_tools import GatedTools
from callwright.flows.engine import Flow, FlowState, Node
from callwright.llm.openai_compat import LlmOptions
from callwright.testing import text_agent
from callwright.tools.arguments import argument_errors
from tests.fakes.openai_server import FakeToolCall, Reply, ScriptItem, start_fake_openai

ran: list[tuple[str, dict[str, object]]] = []


@tool(identifies=True)
async def find_account(name: str, pin: str) -> dict[str, str]:
    """Finds the caller's account; raises if the name and PIN do not match."""
    if pin != "4321":
        raise ValueError("no such account")
    ran.append(("find_account", {"name": name}))
    return {"id": "ACC-7"}


@tool
async def close_account(account_id: str) -> str:
    """Closes an account."""
    ran.append(("close_account", {"account_id": account_id}))
    return "closed"


@tool(confirm=True)
async def cancel_visit(date: dt.date, notify: bool = True) -> str:
    """Cancels a visit."""
    ran.append(("cancel_visit", {"date": date, "notify": notify}))
    return "cancelled"


@tool
async def set_plan(plan: Literal["basic", "plus"]) -> str:
    """Changes the plan."""
    return plan


FLOW = Flow(
    "account",
    "menu",
    {
        "menu": Node("menu"),
        # No tool here asks for confirmation itself: the node does, and needs identity.
        "close": Node(
            "close",
            tools=frozenset({"find_account", "close_account"}),
            requires_identity=True,
            confirm=True,
        ),
        "cancel": Node("cancel", tools=frozenset({"cancel_visit"})),
    },
)
AGENT = Agent(
    name="accounts", tools=[find_account, close_account, cancel_visit, set_plan], flow=FLOW
)


def tools_in(node: str, **slots: object) -> tuple[GatedTools, FlowState]:
    ran.clear()
    state = FlowState(node, slots=dict(slots))
    return GatedTools(AGENT, CallInfo("c1", "test"), None, state), state


async def test_a_node_that_requires_identity_runs_nothing_else_until_the_caller_is_verified() -> (
    None
):
    tools, state = tools_in("close")
    # The model closes an account the caller never proved is theirs: refused, nothing ran.
    refused = await tools.run(ToolCall("m1", "close_account", {"account_id": "ACC-9"}))
    assert refused.error and "identity" in refused.error and ran == []
    wrong = await tools.run(ToolCall("m2", "find_account", {"name": "Ada", "pin": "0000"}))
    assert wrong.error and state.verified is None
    found = await tools.run(ToolCall("m3", "find_account", {"name": "Ada", "pin": "4321"}))
    assert found.error is None and state.verified == "ACC-7"
    # Verified now; and the node's `confirm` holds its action for the caller's yes.
    held = await tools.run(ToolCall("m4", "close_account", {"account_id": "ACC-7"}))
    assert held.result["status"] == "awaiting_confirmation"
    assert tools.pending is not None and [name for name, _ in ran] == ["find_account"]


async def test_what_is_read_back_and_run_is_the_callers_value_not_the_models() -> None:
    wednesday = dt.date(2026, 11, 25)
    tools, _ = tools_in("cancel", date=wednesday)
    # The caller said Wednesday; the model wrote another date.
    held = await tools.run(ToolCall("m1", "cancel_visit", {"date": "2026-12-01"}))
    assert held.error is None and tools.pending is not None
    assert tools.pending.arguments["date"] == "2026-11-25"
    question = tools.readback(tools.pending)
    assert "November twenty fifth" in question and "December" not in question
    done = await tools.run_now(tools.pending)
    assert done.error is None and ran == [("cancel_visit", {"date": wednesday, "notify": True})]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"date": "2026-11-25", "refund_to_card": "4111"}, "unknown argument"),
        ({"date": "2026-11-25", "notify": "false"}, "expected boolean"),
        ({"date": 20261125}, "expected string"),
    ],
)
async def test_arguments_outside_the_schema_are_refused_before_any_hold(
    arguments: dict[str, object], problem: str
) -> None:
    tools, _ = tools_in("cancel")
    result = await tools.run(ToolCall("m1", "cancel_visit", arguments))
    assert result.error is not None and problem in result.error
    assert tools.pending is None and ran == []


def test_argument_checks_follow_the_schema_the_type_hints_made() -> None:
    schema = set_plan.parameters
    assert argument_errors(schema, {"plan": "plus"}) is None
    assert "not one of" in (argument_errors(schema, {"plan": "gold"}) or "")
    numbers = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert argument_errors(numbers, {"n": "12"}) is None  # text the tool converts
    assert argument_errors(numbers, {"n": True}) is not None  # a boolean is no number
    assert argument_errors(numbers, {"n": "twelve"}) is not None
    loose = {"type": "object", "properties": {}, "additionalProperties": True}
    assert argument_errors(loose, {"anything": 1}) is None


def test_a_flow_that_requires_identity_needs_a_tool_that_identifies() -> None:
    with pytest.raises(ValueError, match="identifies"):
        Agent(
            name="no-check",
            tools=[close_account],
            flow=Flow(
                "f",
                "menu",
                {
                    "menu": Node("menu"),
                    "close": Node(
                        "close", tools=frozenset({"close_account"}), requires_identity=True
                    ),
                },
            ),
        )


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Seats(enum.IntEnum):
    ONE = 1
    TWO = 2


@dataclasses.dataclass
class Address:
    street: str
    postcode: str = "00000"


received: dict[str, object] = {}


@tool
async def find_orders(email: str, since: int | None = None, size: Size | None = None) -> str:
    """Finds orders."""
    received.update(email=email, since=since, size=size)
    return "found"


@tool
async def seat(seats: Seats, tier: Literal[1, 2], ids: list[int], days: list[dt.date]) -> str:
    """Seats a party."""
    received.update(seats=seats, tier=tier, ids=ids, days=days)
    return "seated"


@tool
async def ship(to: Address) -> str:
    """Ships an order."""
    received.update(to=to)
    return "shipped"


HINTED = Agent(name="hinted", tools=[find_orders, seat, ship], knowledge_embedder=None)


async def run_hinted(
    name: str, arguments: dict[str, object]
) -> tuple[str | None, dict[str, object]]:
    received.clear()
    tools = GatedTools(HINTED, CallInfo("c2", "test"), None, None)
    result = await tools.run(ToolCall("m2", name, arguments))
    return result.error, dict(received)


async def test_optional_arguments_may_be_null_and_arrive_as_their_hinted_types() -> None:
    # A model sends null for an optional argument it does not know: allowed, and None arrives.
    error, got = await run_hinted("find_orders", {"email": "a@b.c", "since": None})
    assert error is None and got["since"] is None
    error, got = await run_hinted(
        "find_orders", {"email": "a@b.c", "since": "2024", "size": "small"}
    )
    assert error is None and got["since"] == 2024 and got["size"] is Size.SMALL
    error, _ = await run_hinted("find_orders", {"email": "a@b.c", "since": "last year"})
    assert error is not None and "since" in error


async def test_numbers_in_enums_lists_and_dataclasses_arrive_converted() -> None:
    arguments: dict[str, object] = {
        "seats": "2",
        "tier": "1",
        "ids": ["7", 8],
        "days": ["2026-12-24"],
    }
    error, got = await run_hinted("seat", arguments)
    assert error is None, error
    assert got == {"seats": Seats.TWO, "tier": 1, "ids": [7, 8], "days": [dt.date(2026, 12, 24)]}
    error, _ = await run_hinted("seat", arguments | {"ids": ["seven"]})
    assert error is not None and "item 0" in error
    error, got = await run_hinted("ship", {"to": {"street": "1 Main St"}})
    assert error is None and got["to"] == Address("1 Main St")


def test_schemas_say_what_the_checks_accept() -> None:
    props = seat.parameters["properties"]
    assert props["seats"] == {"type": "integer", "enum": [1, 2]}  # an IntEnum is no string
    assert props["ids"] == {"type": "array", "items": {"type": "integer"}}
    since = find_orders.parameters["properties"]["since"]
    assert since == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert find_orders.parameters["required"] == ["email"]
    # A dataclass's fields with defaults are not required.
    assert ship.parameters["properties"]["to"]["required"] == ["street"]


async def test_words_before_a_call_that_changes_something_are_not_said() -> None:
    # The model claims the cancellation in the same completion that asks for it: the claim is
    # not heard (the call waits for the caller's yes); a plain answer is said in full.
    cancel = FakeToolCall("cancel_visit", {"date": "2026-11-25"})
    script: list[ScriptItem] = [
        Reply("Done, your visit is cancelled.", [cancel]),
        Reply("We open at nine on weekdays."),
    ]
    async with start_fake_openai(script) as fake:
        llm = LlmOptions(base_url=fake.base_url, model="fake-model")
        async with text_agent(CANCELLING, llm=llm) as session:
            call = await session.call()
            held = await call.say("Please cancel my visit on the twenty-fifth.")
            answer = await call.say("When do you open?")
    assert "Done" not in held.text and "cancelled" not in held.text, held.text
    assert held.text == "Just to confirm: cancel visit, date 2026-11-25. Shall I go ahead?"
    assert answer.text == "We open at nine on weekdays."


CANCELLING = Agent(name="visits", tools=[cancel_visit], knowledge_embedder=None)


@tool
async def place(position: tuple[int, str], level: Literal[1, 2]) -> str:
    """Places an item."""
    received.update(position=position, level=level)
    return "placed"


async def test_a_pair_is_converted_item_by_item_and_a_literal_is_its_member() -> None:
    agent = Agent(name="placing", tools=[place], knowledge_embedder=None)
    tools = GatedTools(agent, CallInfo("c3", "test"), None, None)
    received.clear()
    result = await tools.run(ToolCall("m3", "place", {"position": ["3", "shelf"], "level": 2.0}))
    assert result.error is None, result.error
    assert received == {"position": (3, "shelf"), "level": 2}
    assert type(received["level"]) is int


@tool
async def check_day(date: dt.date) -> dict[str, bool]:
    """Checks a day has room."""
    ran.append(("check_day", {"date": date}))
    return {"free": True}


@tool(requires=("check_day",), confirm=True)
async def book_day(date: dt.date) -> str:
    """Books a day."""
    ran.append(("book_day", {"date": date}))
    return "Booked."


@tool(confirm=True)
async def refund(amount: float) -> str:
    """Refunds at most 50."""
    if amount > 50:
        raise ValueError("over the limit")
    ran.append(("refund", {"amount": amount}))
    return "refunded"


BOOKING = Agent(
    name="bookings",
    tools=[check_day, book_day, cancel_visit, refund],
    flow=Flow(
        "b",
        "menu",
        {
            "menu": Node("menu"),
            "book": Node("book", tools=frozenset({"check_day", "book_day", "cancel_visit"})),
        },
    ),
)


def booking_tools(**slots: object) -> GatedTools:
    ran.clear()
    state = FlowState("book", slots=dict(slots))
    return GatedTools(BOOKING, CallInfo("c1", "test"), None, state)


async def test_a_required_step_is_checked_for_the_arguments_that_will_run() -> None:
    """The caller said Wednesday (the slot); the model wrote another week's. The check and the
    booking both run for the caller's day: the booking can never go ahead for a day nobody
    checked."""
    wednesday = dt.date(2030, 1, 9)
    tools = booking_tools(date=wednesday)
    checked = await tools.run(ToolCall("m1", "check_day", {"date": "2030-01-16"}))
    held = await tools.run(ToolCall("m2", "book_day", {"date": "2030-01-16"}))
    assert checked.error is None and held.error is None and tools.pending is not None
    done = await tools.run_now(tools.pending)
    assert done.error is None
    assert ran == [("check_day", {"date": wednesday}), ("book_day", {"date": wednesday})]


async def test_a_second_change_waits_while_one_waits_for_the_callers_yes() -> None:
    tools = booking_tools()
    first = await tools.run(ToolCall("m1", "cancel_visit", {"date": "2030-01-09"}))
    second = await tools.run(ToolCall("m2", "refund", {"amount": 20}))
    assert first.result["status"] == "awaiting_confirmation"
    assert second.error is not None and "one change at a time" in second.error
    assert tools.pending is not None and tools.pending.name == "cancel_visit"  # what was read
    assert ran == []


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), "NaN", "-inf"])
async def test_a_number_that_is_no_number_is_refused(amount: object) -> None:
    """NaN passes every comparison a tool makes ("at most 50"): refused before any hold."""
    tools = booking_tools()
    result = await tools.run(ToolCall("m1", "refund", {"amount": amount}))
    assert result.error is not None and "expected number" in result.error
    assert tools.pending is None and ran == []


@tool(identifies=True)
async def verify_patient(name: str, dob: str) -> dict[str, str]:
    """Checks the caller is the patient they say."""
    ran.append(("verify_patient", {"name": name}))
    return {"id": f"P-{name}"}


@tool
async def read_record(name: str) -> str:
    """Reads a patient's record."""
    ran.append(("read_record", {"name": name}))
    return "record"


RECORDS = Agent(
    name="records",
    tools=[verify_patient, read_record],
    flow=Flow(
        "r",
        "menu",
        {
            "menu": Node("menu"),
            "records": Node(
                "records",
                tools=frozenset({"verify_patient", "read_record"}),
                requires_identity=True,
            ),
        },
    ),
)


async def test_a_verified_caller_reads_only_their_own_record() -> None:
    """Verified as Ann, the model asks for Bob's record: refused, as the identity check is
    about whose data is read, not only that someone was checked."""
    ran.clear()
    state = FlowState("records")
    tools = GatedTools(RECORDS, CallInfo("c1", "test"), None, state)
    checked = await tools.run(ToolCall("m1", "verify_patient", {"name": "Ann", "dob": "1990"}))
    someone_else = await tools.run(ToolCall("m2", "read_record", {"name": "Bob"}))
    own = await tools.run(ToolCall("m3", "read_record", {"name": "ann"}))
    assert checked.error is None and state.verified == "P-Ann"
    assert someone_else.error is not None and "someone other than" in someone_else.error
    assert own.error is None
    assert ran == [("verify_patient", {"name": "Ann"}), ("read_record", {"name": "ann"})]

"""Tool policy in code, whatever the model writes: a node's `confirm` holds its tools, a node
that `requires_identity` runs only identifying tools until one succeeded, what is read back is
what runs, and arguments outside the tool's schema never reach it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pytest

from callwright import Agent, CallInfo, ToolCall, tool
from callwright.agents.gated_tools import GatedTools
from callwright.flows.engine import Flow, FlowState, Node
from callwright.tools.arguments import argument_errors

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

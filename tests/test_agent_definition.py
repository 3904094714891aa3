"""An agent's definition is checked when it is made: mistakes that would fail in a caller's
call fail at start-up, with a message that says what to change. And what a valid definition
promises (a node's `say`, a person slot's directory) happens in calls."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from callwright import Agent, Flow, ModelRoute, Node, SlotSpec, tool
from callwright.agents.definition import AgentRuntime
from callwright.agents.responder import AgentResponderFactory
from callwright.flows.names import Directory, Person
from callwright.llm.openai_compat import LlmOptions
from callwright.testing import text_agent

booked: list[dict[str, str]] = []


@tool
async def book_table(size: str) -> str:
    """Books a table."""
    booked.append({"size": size})
    return "Booked."


@tool(identifies=True)
async def check_member(member_id: str) -> dict[str, str]:
    """Checks a member number."""
    return {"id": member_id}


@tool
async def ask_stylist(stylist: str) -> str:
    """Books the caller with a stylist."""
    booked.append({"stylist": stylist})
    return "You're booked with them."


async def undecorated(size: str) -> str:
    return size


def menu_and(node: Node) -> Flow:
    return Flow("f", "menu", {"menu": Node("menu"), node.name: node})


MISTAKES: dict[str, Callable[[], object]] = {
    "unknown kind 'number'": lambda: SlotSpec("size", "number", "How many?"),  # type: ignore[arg-type]
    "start node 'main' is not in its nodes": lambda: Flow("f", "main", {"menu": Node("menu")}),
    "keyed by their name": lambda: Flow("f", "menu", {"menu": Node("menu"), "b": Node("book")}),
    "tools are tool names": lambda: Node("book", tools="book_table"),  # type: ignore[arg-type]
    "decorate the function with @tool": lambda: Agent(name="a", tools=[undecorated]),  # type: ignore[list-item]
    "directory 'stylist'": lambda: Agent(
        name="a",
        tools=[ask_stylist],
        flow=menu_and(
            Node(
                "style", (SlotSpec("stylist", "person", "With whom?"),), frozenset({"ask_stylist"})
            )
        ),
    ),
    "cannot run a tool that identifies": lambda: Agent(
        name="a",
        tools=[check_member, book_table],
        flow=Flow(
            "f",
            "menu",
            {
                "menu": Node("menu"),
                "check": Node("check", tools=frozenset({"check_member"})),
                "book": Node("book", tools=frozenset({"book_table"}), requires_identity=True),
            },
        ),
    ),
    "share a name": lambda: Agent(
        name="a", llm_routes=[ModelRoute("tiny-greeter"), ModelRoute("small-faq")]
    ),
}


@pytest.mark.parametrize("problem", list(MISTAKES))
def test_a_definition_that_would_fail_in_a_call_fails_when_made(problem: str) -> None:
    with pytest.raises((ValueError, TypeError), match=problem):
        MISTAKES[problem]()


def test_a_list_of_tool_names_is_as_good_as_a_frozenset() -> None:
    assert Node("book", tools=["book_table"]).tools == frozenset({"book_table"})  # type: ignore[arg-type]
    names = (n for n in ["book_table", "ask_stylist"])  # read once, still both
    assert Node("book", tools=names).tools == {"book_table", "ask_stylist"}  # type: ignore[arg-type]


async def test_a_node_says_its_line_on_entering_and_a_person_slot_matches_its_directory() -> None:
    stylists = Directory([Person("s1", "Maria", "Lopez", "Maria Lopez"),
                          Person("s2", "John", "Okafor", "John Okafor")])  # fmt: skip
    salon = Agent(
        name="salon",
        tools=[ask_stylist],
        knowledge_embedder=None,
        directories={"stylists": stylists},
        flow=menu_and(
            Node(
                "style",
                (SlotSpec("stylist", "person", "Who would you like?", directory="stylists"),),
                frozenset({"ask_stylist"}),
                say="Let's find you a stylist.",
            )
        ),
        intents={"style": ["haircut"]},
    )
    booked.clear()
    async with text_agent(salon) as session:
        call = await session.call()
        turn = await call.say("I'd like a haircut.")
        assert turn.text == "Let's find you a stylist. Who would you like?"
        # Heard with the surname misspelt: matched by sound to the stylist of the directory.
        turn = await call.say("With Maria Lopes, please.")
    assert booked == [{"stylist": "Maria Lopez"}], turn.text


@tool
async def refund_order(order_id: str, reason: str = "not said") -> str:
    """Refunds an order."""
    return f"Refunded {order_id}."


def refunding(slots: tuple[SlotSpec, ...]) -> Agent:
    node = Node("refund", slots, frozenset({"refund_order"}))
    return Agent(name="returns", tools=[refund_order], flow=menu_and(node))


async def test_a_required_argument_no_slot_fills_is_refused_without_a_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a model, the flow calls a node's tool with the slots' values: a required
    argument no slot fills would fail every call ("missing required argument"), so the agent
    is refused when it is opened, naming the tool and the argument (not the optional one)."""
    unfilled = refunding((SlotSpec("email", "text", "Your email?"),))
    with pytest.raises(ValueError, match=r"refund_order \(order_id\)") as refused:
        await AgentResponderFactory.open(unfilled, AgentRuntime(data_dir=tmp_path))
    assert "reason" not in str(refused.value)
    # With a slot of that name, it opens; with a model, it opens and the fallback is warned of.
    filled = refunding((SlotSpec("order_id", "digits", "Your order number?"),))
    await (await AgentResponderFactory.open(filled, AgentRuntime(data_dir=tmp_path))).close()
    runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions("http://127.0.0.1:9/v1", "m"))
    with caplog.at_level(logging.WARNING, logger="callwright.agents.responder"):
        factory = await AgentResponderFactory.open(unfilled, runtime)
    await factory.close()
    assert any("refund_order (order_id)" in r.getMessage() for r in caplog.records)

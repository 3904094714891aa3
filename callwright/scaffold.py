"""`callwright new NAME`: a folder with a working agent, its knowledge, a test and a scenario."""

from __future__ import annotations

import re
from pathlib import Path

AGENT_PY = '''\
"""{title}: a callwright agent. Serve it with `callwright serve --agent agent.py`."""

from __future__ import annotations

from pathlib import Path

from callwright import Agent, Flow, Node, SlotSpec, tool

HERE = Path(__file__).resolve().parent


@tool(timeout=3.0, filler="One moment while I look that up.")
async def order_status(order_id: str) -> str:
    """Looks up where an order is.

    Args:
        order_id: the order number the caller gave.
    """
    # Call your own backend here (aiohttp, your SDK...). Whatever you return is spoken
    # when it is a string; the LLM, when one is configured, reads any JSON-able value.
    return f"Order {{order_id}} has shipped and arrives tomorrow."


FLOW = Flow(
    "{name}",
    start="menu",
    nodes={{
        "menu": Node("menu"),
        "status": Node(
            "status",
            slots=(SlotSpec("order_id", "digits", "What is your order number?"),),
            tools=frozenset({{"order_status"}}),
        ),
    }},
)

agent = Agent(
    name="{name}",
    greeting="Hello, thanks for calling {title}. How can I help?",
    instructions=(
        "You are the phone assistant of {title}. Replies are spoken: one or two short "
        "sentences. Use the tools for every fact."
    ),
    knowledge=HERE / "knowledge",
    flow=FLOW,
    intents={{"status": ["where is my order", "order status", "track my order"]}},
    tools=[order_status],
)
'''

KNOWLEDGE_MD = """\
# Opening hours

We answer the phone from nine in the morning to five in the evening, Monday to Friday.

# Address

We are at one hundred Main Street.
"""

TEST_PY = '''\
"""{title}: conversations by text (no audio, no LLM): `pytest` in this folder."""

from __future__ import annotations

from pathlib import Path

from callwright import load_agent
from callwright.testing import text_agent

AGENT = load_agent(str(Path(__file__).resolve().parent.parent / "agent.py"))


async def test_greets_answers_and_looks_up_an_order() -> None:
    async with text_agent(AGENT) as session:
        call = await session.call()
        assert call.greeting.startswith("Hello")
        hours = await call.say("What are your opening hours?")
        assert "nine in the morning" in hours.text
        asked = await call.say("Where is my order?")
        assert asked.text == "What is your order number?"
        found = await call.say("It is 4 2 1 7.")
        found.expect_tool("order_status", order_id="4217")
        assert "shipped" in found.text
        bye = await call.say("That's all, goodbye.")
        assert bye.ended is not None
'''

SCENARIO_YAML = """\
name: {name}-order-status
description: the caller asks where an order is and gives its number
caller:
  lines:
    - say: "Hi, where is my order?"
    - say: "It is four two one seven."
      after: "order number"
    - say: "That's all, goodbye."
expect:
  tool_calls:
    - name: order_status
      arguments: {{order_id: "4217"}}
  escalated: false
  outcome: completed
  says: ["shipped"]
"""

PYTEST_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""

README_MD = """\
# {title}

A voice agent on [callwright](https://github.com/callwright/callwright).

- `agent.py`: the agent: greeting, instructions for an LLM, knowledge, a flow and a tool.
- `knowledge/`: markdown the agent answers questions from (one `#` heading per answer).
- `tests/`: conversations by text (`callwright.testing`); run them with `pytest`.
- `scenarios/`: spoken scenarios (a scripted caller and the expected outcome).

## Running it

```sh
pytest                                   # the text tests, in seconds
callwright serve --agent agent.py        # serve it on ws://127.0.0.1:8765/v1/ws
callwright call --say "Where is my order?" --say "It is four two one seven."
```

With an OpenAI-compatible LLM the agent follows its instructions, bounded by the same flow:

```sh
CALLWRIGHT_LLM_BASE_URL=http://127.0.0.1:11434/v1 CALLWRIGHT_LLM_MODEL=llama3.1 \\
  callwright serve --agent agent.py
```

Point a Twilio number's voice webhook at `/v1/twilio/incoming` to take phone calls (see
callwright's docs/telephony.md), and read docs/agents.md for the whole tutorial.
"""


def scaffold(name: str, parent: Path) -> Path:
    """Writes a new agent folder `parent/name`.

    Args:
        name: the agent's name (letters, digits, `-` and `_`).
        parent: where the folder goes.

    Returns:
        The new folder.

    Raises:
        ValueError: a bad name, or the folder exists already.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", name):
        raise ValueError(f"bad agent name {name!r}: letters, digits, - and _ (a letter first)")
    folder = parent / name
    if folder.exists():
        raise ValueError(f"{folder} exists already")
    title = " ".join(part.capitalize() for part in re.split(r"[-_]", name) if part)
    files = {
        "agent.py": AGENT_PY,
        "knowledge/faq.md": KNOWLEDGE_MD,
        "tests/test_agent.py": TEST_PY,
        "scenarios/order-status.yaml": SCENARIO_YAML,
        "pytest.ini": PYTEST_INI,
        "README.md": README_MD,
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name, title=title), encoding="utf-8")
    return folder

"""The agent a new user copies from docs/agents.md ("2. Define the agent") defines as written."""

from __future__ import annotations

import re
from pathlib import Path

from callwright import Agent

DOC = Path(__file__).parent.parent / "docs" / "agents.md"


def test_the_documented_agent_defines_as_copied(tmp_path: Path) -> None:
    section = DOC.read_text().split("## 2. Define the agent", 1)[1].split("\n## ", 1)[0]
    [first, *_] = re.findall(r"```python\n(.*?)```", section, re.S)
    (tmp_path / "knowledge").mkdir()
    namespace: dict[str, object] = {"__file__": str(tmp_path / "agent.py"), "__name__": "agent"}
    exec(compile(first, str(DOC), "exec"), namespace)  # the user's file, as copied
    agent = namespace["agent"]
    assert isinstance(agent, Agent)
    assert {t.name for t in agent.tools} == {"order_status", "start_return"}
    assert agent.flow is not None and "return" in agent.flow.nodes

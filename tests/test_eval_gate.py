"""The spoken eval suite as a CI gate: the clinic's fast subset, real calls, real models.

The pass threshold is what the deterministic receptionist on main passes reliably today:
in the full run of 2026-12-01 it passed 4 of these 5 (the person, the emergency, the keypad
and the prescription; "opening hours" is heard as "opening errors" from the Festival voice),
so the threshold is 3 of 5, leaving room for one pair that a loaded machine makes flaky.
It is raised when the understanding work lands.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from callwright.agent.stack import AgentStack
from callwright.agents.definition import AgentRuntime
from callwright.core.responder import ResponderFactory
from callwright.evals.cli import select_pairs
from callwright.evals.report import pass_rates, write_html, write_json, write_junit
from callwright.evals.runner import EvalOptions, EvalRunner
from callwright.evals.scenario import load_scenarios
from examples.clinic.setup import build_responders

SUITE = Path(__file__).resolve().parent.parent / "examples" / "clinic" / "scenarios"
PASS_THRESHOLD = 0.6


async def test_fast_subset_passes_the_threshold(stack: AgentStack, tmp_path: Path) -> None:
    pairs = select_pairs(load_scenarios(SUITE), ["clean"], subset="fast")
    assert 3 <= len(pairs) <= 8  # a handful: minutes at most on two cores

    async def clinic(data_dir: Path) -> ResponderFactory:
        return await build_responders(AgentRuntime(data_dir=data_dir))

    runner = EvalRunner(stack, clinic, EvalOptions(parallel=2, work_dir=tmp_path))
    results = await runner.run(pairs)

    # Every pair really ran: a call was placed, recorded and judged.
    assert [r.reasons for r in results if any("did not run" in x for x in r.reasons)] == []
    assert all(r.call_id and r.state.transcript for r in results)
    assert all(r.recording.endswith(".wav") for r in results)
    assert all((tmp_path / r.recording).stat().st_size > 44 for r in results)
    passed, total = pass_rates(results)["overall"]
    assert passed / total >= PASS_THRESHOLD, [(r.key, r.reasons) for r in results]

    write_json(results, tmp_path / "results.json")
    write_junit(results, tmp_path / "junit.xml")
    write_html(results, tmp_path / "report.html", tmp_path)
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert int(suite.attrib["tests"]) == total
    assert int(suite.attrib["failures"]) == total - passed
    page = (tmp_path / "report.html").read_text()
    assert page.count("<audio") == total and "pairs/" in page


async def test_pairs_do_not_share_agent_state(stack: AgentStack, tmp_path: Path) -> None:
    """Each pair's agent gets its own data folder (a booking in one is not in the next)."""
    made: list[Path] = []

    async def clinic(data_dir: Path) -> ResponderFactory:
        made.append(data_dir)
        return await build_responders(AgentRuntime(data_dir=data_dir))

    runner = EvalRunner(stack, clinic, EvalOptions(work_dir=tmp_path))
    scenario = next(s for s in load_scenarios(SUITE) if s.name == "dtmf-zero-for-a-person")
    results = await runner.run([(scenario, "clean"), (scenario, "lossy")])
    assert len(set(made)) == 2 and all((d / "clinic.sqlite3").exists() for d in made)
    assert [r.transport for r in results] == ["ws", "twilio"]
    assert results[0].call_id != results[1].call_id
    assert results[1].state.escalated is True


def test_the_eval_command_writes_its_reports_and_compares(tmp_path: Path) -> None:
    """`callwright eval` end to end in its own process: table, JSON, JUnit, HTML, comparison."""
    import json
    import os
    import subprocess
    import sys

    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps({"results": [{"scenario": "dtmf-zero-for-a-person",
                                                 "condition": "clean", "passed": False,
                                                 "ttfa_p95_ms": None}]}))  # fmt: skip
    out = tmp_path / "out"
    command = [sys.executable, "-m", "callwright", "eval", str(SUITE), "--only",
               "dtmf-zero-for-a-person", "--conditions", "clean", "--out", str(out),
               "--junit", str(out / "junit.xml"), "--html", str(out / "report.html"),
               "--compare", str(previous), "--min-pass-rate", "1",
               "--agent", "examples/clinic/agent.py"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(SUITE.parents[2]), "CALLWRIGHT_TTS": "espeak"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env=env, cwd=SUITE.parents[2]
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "dtmf-zero-for-a-person" in done.stdout and "overall        1/1" in done.stdout
    assert "newly passing (1): dtmf-zero-for-a-person@clean" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["pass_rates"]["overall"] == {"passed": 1, "total": 1}
    assert results["results"][0]["escalated"] is True
    assert (out / "junit.xml").exists() and "<audio" in (out / "report.html").read_text()

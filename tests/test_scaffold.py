"""`callwright new NAME`: the folder it writes holds an agent whose own test passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from callwright import load_agent
from callwright.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_new_agent_folder_loads_and_its_test_passes(tmp_path: Path) -> None:
    assert main(["new", "parcel-desk", "--dir", str(tmp_path)]) == 0
    folder = tmp_path / "parcel-desk"
    expected = {
        "agent.py",
        "README.md",
        "pytest.ini",
        "knowledge/faq.md",
        "tests/test_agent.py",
        "scenarios/order-status.yaml",
    }
    assert expected <= {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    agent = load_agent(str(folder / "agent.py"))
    assert agent.name == "parcel-desk" and agent.greeting.startswith("Hello, thanks for calling")
    scenario = yaml.safe_load((folder / "scenarios" / "order-status.yaml").read_text())
    assert scenario["caller"]["lines"][0]["say"]
    assert scenario["expect"]["tool_calls"][0]["name"] == "order_status"
    assert "callwright serve --agent agent.py" in (folder / "README.md").read_text()
    # The generated test runs in the new folder, as its author would run it.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_new_refuses_an_existing_folder_and_bad_names(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    assert main(["new", "taken", "--dir", str(tmp_path)]) == 2
    assert main(["new", "../escape", "--dir", str(tmp_path)]) == 2
    assert not (tmp_path.parent / "escape").exists()

"""Seconds per test file, for starting the longest files first when files run in parallel.

`./run.sh test` runs test files on several worker processes (pytest-xdist, one file per unit
of work). Workers take files in collection order, so a long file collected last would run
alone at the end; `tests/conftest.py` orders the files by the seconds recorded here, longest
first. A file not listed counts as longest (a new slow file then never comes last). Refresh the
table from a JUnit report of a whole run:

    ./run.sh test -q --junitxml=/tmp/run.xml && python -m tests.durations /tmp/run.xml

The figures only order the files; nothing asserts on them.
"""

from __future__ import annotations

import json
import math
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

TABLE = Path(__file__).with_name("durations.json")


def file_of(nodeid: str) -> str:
    """The test file of a pytest node id ("tests/test_x.py::test_y[a]" -> "tests/test_x.py")."""
    return nodeid.split("::", 1)[0]


def load() -> dict[str, float]:
    """The recorded seconds per file (empty when there is no table)."""
    if not TABLE.exists():
        return {}
    return {str(k): float(v) for k, v in json.loads(TABLE.read_text()).items()}


def sort_key(table: dict[str, float]) -> Callable[[str], float]:
    """A key that puts the longest files first; unknown files count as infinitely long."""

    def key(nodeid: str) -> float:
        return -table.get(file_of(nodeid), math.inf)

    return key


def _path_of(classname: str) -> str:
    """The file of a JUnit class name: tests.test_x or tests.test_x.TestY -> tests/test_x.py."""
    parts = classname.split(".")
    root = TABLE.parent.parent
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (root / candidate).exists():
            return candidate
    return "/".join(parts) + ".py"


def from_junit(paths: list[str]) -> dict[str, float]:
    """Seconds per test file (setup, call and teardown) from JUnit XML reports."""
    seconds: dict[str, float] = {}
    for path in paths:
        for case in ET.parse(path).iter("testcase"):
            name = _path_of(case.get("classname") or "")
            seconds[name] = seconds.get(name, 0.0) + float(case.get("time") or 0.0)
    ranked = sorted(seconds.items(), key=lambda item: -item[1])
    return {name: round(total, 1) for name, total in ranked}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    table = from_junit(argv)
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    total = sum(table.values())
    print(f"{len(table)} files, {total:.0f} s in one process; longest:")
    for name, seconds in list(table.items())[:20]:
        print(f"{seconds:8.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The file order for parallel runs: longest first, unknown files before known ones."""

from __future__ import annotations

from pathlib import Path

from tests import durations

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.test_slots" name="test_a" time="1.25"/>
<testcase classname="tests.test_slots" name="test_b" time="0.75"/>
<testcase classname="tests.security.test_sessions" name="test_c" time="4.0"/>
<testcase classname="tests.test_durations.TestGrouped" name="test_d" time="0.5"/>
</testsuite></testsuites>
"""


def test_seconds_per_file_from_a_junit_report(tmp_path: Path) -> None:
    report = tmp_path / "run.xml"
    report.write_text(JUNIT)
    table = durations.from_junit([str(report)])
    assert table == {
        "tests/security/test_sessions.py": 4.0,
        "tests/test_slots.py": 2.0,
        "tests/test_durations.py": 0.5,  # a class's tests count for their file
    }
    assert list(table) == sorted(table, key=lambda name: -table[name])


def test_longest_files_first_and_unknown_files_before_all() -> None:
    table = {"tests/a.py": 3.0, "tests/b.py": 30.0}
    ids = [
        "tests/a.py::t1",
        "tests/new.py::t",
        "tests/b.py::t1",
        "tests/a.py::t2",
        "tests/b.py::t2",
    ]
    ordered = sorted(ids, key=durations.sort_key(table))
    assert ordered == [
        "tests/new.py::t",
        "tests/b.py::t1",
        "tests/b.py::t2",
        "tests/a.py::t1",
        "tests/a.py::t2",
    ]


def test_the_recorded_table_is_read() -> None:
    table = durations.load()
    assert table, "tests/durations.json is missing or empty"
    assert all(name.startswith("tests/") and name.endswith(".py") for name in table)
    assert all(seconds >= 0 for seconds in table.values())

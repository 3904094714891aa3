"""The package layering: no two packages import each other, and the framework no example."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "callwright"
IMPORT = re.compile(r"^\s*(?:from|import) (callwright|examples)\.?(\w*)", re.MULTILINE)


def imports_by_package() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        source = relative.parts[0].removesuffix(".py")
        for top, name in IMPORT.findall(path.read_text()):
            target = "examples" if top == "examples" else name
            if target and target != source:
                edges[source].add(target)
    return edges


def test_no_two_packages_import_each_other() -> None:
    edges = imports_by_package()
    both_ways = sorted(
        (a, b) for a in edges for b in edges[a] if a < b and a in edges.get(b, set())
    )
    assert both_ways == []


def test_the_core_and_flows_import_nothing_above_them() -> None:
    edges = imports_by_package()
    assert edges.get("core", set()) == set()
    assert edges.get("flows", set()) <= {"core"}


def test_the_framework_imports_and_names_no_example() -> None:
    assert all("examples" not in targets for targets in imports_by_package().values())
    mentions = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and path.suffix != ".pyc"
        and "clinic" in path.read_text(errors="replace").lower()
    ]
    assert mentions == []

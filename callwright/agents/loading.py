"""Finding the agent to serve: `module:attribute`, `path/to/agent.py[:attribute]`, `agent.yaml`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from callwright.agents.definition import Agent
from callwright.agents.yaml_agent import AgentFileError, load_yaml_agent

DEFAULT_ATTRIBUTE = "agent"


class AgentLoadError(ValueError):
    """The agent could not be loaded; the message says what and where."""


def load_agent(spec: str, env: Mapping[str, str] | None = None) -> Agent:
    """Loads an agent.

    Args:
        spec: "package.module:attribute", "path/to/agent.py" (attribute `agent`, or
            "path/to/agent.py:attribute"), or "path/to/agent.yaml".
        env: environment for the YAML form's auth headers (default: the process's).

    Raises:
        AgentLoadError: nothing found, or not an `Agent` (a YAML error says line and field).
    """
    if spec.endswith((".yaml", ".yml")):
        try:
            return load_yaml_agent(Path(spec), env)
        except AgentFileError as exc:
            raise AgentLoadError(str(exc)) from exc
    target, _, attribute = spec.partition(":")
    if target.endswith(".py") or Path(target).is_file():
        module = _import_file(Path(target))
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise AgentLoadError(f"--agent {spec}: cannot import {target}: {exc}") from exc
    attribute = attribute or DEFAULT_ATTRIBUTE
    found = getattr(module, attribute, None)
    if callable(found) and not isinstance(found, Agent):
        found = found()  # a function returning the agent
    if not isinstance(found, Agent):
        raise AgentLoadError(f"--agent {spec}: {attribute} is not a callwright.Agent")
    return found


def _import_file(path: Path) -> object:
    """Imports a Python file as a module; its folder goes on sys.path for its own imports.

    A file inside a package (folders with `__init__.py`) is imported by its dotted name, with
    the folder above the top package on sys.path, so its package imports work as in tests.
    """
    path = path.resolve()
    if not path.is_file():
        raise AgentLoadError(f"--agent {path}: no such file")
    if (path.parent / "__init__.py").is_file():
        top = path.parent
        while (top.parent / "__init__.py").is_file():
            top = top.parent
        root = top.parent
        dotted = ".".join(path.relative_to(root).with_suffix("").parts)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        try:
            return importlib.import_module(dotted)
        except Exception as exc:
            raise AgentLoadError(f"--agent {path}: failed to import {dotted}: {exc!r}") from exc
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"callwright_agent_{path.stem}_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AgentLoadError(f"--agent {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise AgentLoadError(f"--agent {path}: failed to import: {exc!r}") from exc
    return module

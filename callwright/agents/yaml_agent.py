"""The YAML form of an agent, for teams that write no Python.

```yaml
name: shop
greeting: Hello, thanks for calling Example Shop. How can I help?
instructions: You answer questions about orders. Use the tools for every fact.
knowledge: knowledge            # folder of markdown files, relative to this file
tools:
  - name: order_status
    description: Looks up an order's status.
    url: https://shop.example/api/orders/{order_id}
    method: GET
    parameters:                 # JSON schema of the arguments
      type: object
      properties: {order_id: {type: string}}
      required: [order_id]
    auth_header: {name: Authorization, env: SHOP_API_TOKEN}
    timeout: 4
escalation:
  phrases: [speak to the manager]
  transfer_number: "+15550100"
silence:                        # optional; else the server's CALLWRIGHT_SILENCE_*
  reprompt_after_seconds: 12    # "are you still there?" after this much caller silence
  max_reprompts: 2              # then goodbye
```

Every error names the file, the line and the field ("agent.yaml line 12: tools[0].url:
required"), so a bad file stops the server before it listens, with one clear message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from callwright.agent.silence import SilenceOptions
from callwright.agents.definition import Agent
from callwright.agents.http_tools import HttpToolSpec, http_tool, url_placeholders
from callwright.tools.registry import _VALID_NAME

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TOP_FIELDS = {
    "name",
    "instructions",
    "greeting",
    "phrases",
    "knowledge",
    "tools",
    "escalation",
    "stt_model",
    "tts",
    "voice",
    "pronunciations",
    "silence",
}
SILENCE_FIELDS = {"reprompt_after_seconds", "max_reprompts"}
TOOL_FIELDS = {
    "name",
    "description",
    "url",
    "method",
    "parameters",
    "headers",
    "auth_header",
    "timeout",
    "retries",
    "confirm",
    "confirm_prompt",
    "filler",
}


class AgentFileError(ValueError):
    """A bad agent file; the message names the file, the line and the field."""


class _Reader:
    """Typed access to a YAML node tree, with errors that say where."""

    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env

    def fail(self, node: yaml.Node, where: str, message: str) -> AgentFileError:
        return AgentFileError(
            f"{self.path.name} line {node.start_mark.line + 1}: {where}: {message}"
        )

    def mapping(self, node: yaml.Node, where: str, allowed: set[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "must be a mapping")
        found: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if allowed and name not in allowed:
                raise self.fail(
                    key, _join(where, name), f"unknown field (known: {', '.join(sorted(allowed))})"
                )
            found[name] = value
        return found

    def text(
        self,
        fields: dict[str, yaml.Node],
        parent: yaml.Node,
        where: str,
        key: str,
        required: bool = False,
    ) -> str | None:
        node = fields.get(key)
        if node is None:
            if required:
                raise self.fail(parent, _join(where, key), "required")
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null"):
            raise self.fail(node, _join(where, key), "must be a string")
        value = str(node.value).strip()
        if required and not value:
            raise self.fail(node, _join(where, key), "must not be empty")
        return value

    def number(self, fields: dict[str, yaml.Node], where: str, key: str, default: float) -> float:
        node = fields.get(key)
        if node is None:
            return default
        try:
            value = float(node.value) if isinstance(node, yaml.ScalarNode) else -1.0
        except ValueError:
            value = -1.0
        if value <= 0 and not (key == "retries" and value == 0):
            raise self.fail(node, _join(where, key), "must be a positive number")
        return value

    def flag(self, fields: dict[str, yaml.Node], where: str, key: str) -> bool:
        node = fields.get(key)
        if node is None:
            return False
        if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith(":bool"):
            raise self.fail(node, _join(where, key), "must be true or false")
        return bool(yaml.safe_load(node.value))

    def strings(self, fields: dict[str, yaml.Node], where: str, key: str) -> list[str]:
        node = fields.get(key)
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, _join(where, key), "must be a list of strings")
        out = []
        for i, item in enumerate(node.value):
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                raise self.fail(item, f"{_join(where, key)}[{i}]", "must be a string")
            out.append(str(item.value))
        return out


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def load_yaml_agent(path: Path, env: Mapping[str, str] | None = None) -> Agent:
    """Reads and validates an agent file.

    Args:
        path: the YAML file.
        env: where auth header values come from; defaults to the process environment.

    Raises:
        AgentFileError: the file is not valid YAML or not a valid agent (the message says
            where and why).
    """
    env = os.environ if env is None else env
    reader = _Reader(path, env)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except OSError as exc:
        raise AgentFileError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise AgentFileError(f"{path.name}{line}: not valid YAML: {exc}") from exc
    if root is None:
        raise AgentFileError(f"{path.name}: empty agent file")
    top = reader.mapping(root, "", TOP_FIELDS)
    name = reader.text(top, root, "", "name", required=True)
    assert name is not None
    kwargs: dict[str, Any] = {"name": name}
    for key in ("instructions", "greeting", "stt_model", "voice"):
        value = reader.text(top, root, "", key)
        if value is not None:
            kwargs[key] = value
    tts = reader.text(top, root, "", "tts")
    if tts is not None:
        if tts not in ("piper", "espeak"):
            raise reader.fail(top["tts"], "tts", 'must be "piper" or "espeak"')
        kwargs["tts"] = tts
    kwargs["phrases"] = tuple(reader.strings(top, "", "phrases"))
    if "pronunciations" in top:
        node = top["pronunciations"]
        if not isinstance(node, yaml.MappingNode):
            raise reader.fail(node, "pronunciations", "must map words to how they are said")
        respellings: dict[str, str] = {}
        for key_node, value_node in node.value:
            if not isinstance(value_node, yaml.ScalarNode) or not str(value_node.value).strip():
                raise reader.fail(value_node, f"pronunciations.{key_node.value}", "must be text")
            respellings[str(key_node.value)] = str(value_node.value)
        kwargs["pronunciations"] = respellings
    knowledge = reader.text(top, root, "", "knowledge")
    if knowledge is not None:
        folder = (path.parent / knowledge).resolve()
        if not folder.is_dir():
            raise reader.fail(top["knowledge"], "knowledge", f"no folder {folder}")
        kwargs["knowledge"] = folder
    if "escalation" in top:
        node = top["escalation"]
        escalation = reader.mapping(node, "escalation", {"phrases", "transfer_number"})
        kwargs["escalation_cues"] = tuple(reader.strings(escalation, "escalation", "phrases"))
        kwargs["transfer_number"] = reader.text(escalation, node, "escalation", "transfer_number")
    if "silence" in top:
        kwargs["silence"] = _silence(reader, top["silence"])
    tools_node = top.get("tools")
    if tools_node is not None:
        if not isinstance(tools_node, yaml.SequenceNode):
            raise reader.fail(tools_node, "tools", "must be a list")
        tools = [_tool(reader, item, f"tools[{i}]") for i, item in enumerate(tools_node.value)]
        names = [t.name for t in tools]
        for i, tool_name in enumerate(names):
            if tool_name in names[:i]:
                raise reader.fail(tools_node.value[i], f"tools[{i}].name", "duplicate tool name")
        kwargs["tools"] = tuple(tools)
    return Agent(**kwargs)


def _silence(reader: _Reader, node: yaml.Node) -> SilenceOptions:
    """`silence:` how long a silent caller is waited for, and how many reprompts."""
    fields = reader.mapping(node, "silence", SILENCE_FIELDS)
    default = SilenceOptions()
    seconds = reader.number(
        fields, "silence", "reprompt_after_seconds", default.reprompt_after_ms / 1000.0
    )
    reprompts = default.max_reprompts
    if "max_reprompts" in fields:
        value = fields["max_reprompts"]
        text = str(value.value) if isinstance(value, yaml.ScalarNode) else ""
        if not text.isdigit():
            raise reader.fail(value, "silence.max_reprompts", "must be a whole number, 0 or more")
        reprompts = int(text)
    return replace(default, reprompt_after_ms=seconds * 1000.0, max_reprompts=reprompts)


def _tool(reader: _Reader, node: yaml.Node, where: str) -> Any:
    fields = reader.mapping(node, where, TOOL_FIELDS)
    name = reader.text(fields, node, where, "name", required=True)
    assert name is not None
    if not _VALID_NAME.match(name):
        raise reader.fail(fields["name"], f"{where}.name", "use letters, digits, _ and -")
    url = reader.text(fields, node, where, "url", required=True)
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise reader.fail(fields["url"], f"{where}.url", "must start with http:// or https://")
    method = (reader.text(fields, node, where, "method") or "GET").upper()
    if method not in METHODS:
        raise reader.fail(
            fields["method"], f"{where}.method", f"must be one of {', '.join(METHODS)}"
        )
    parameters: dict[str, Any] = {"type": "object", "properties": {}}
    if "parameters" in fields:
        parameters = _schema(reader, fields["parameters"], f"{where}.parameters")
    missing = [p for p in url_placeholders(url) if p not in parameters.get("properties", {})]
    if missing:
        raise reader.fail(fields["url"], f"{where}.url", f"{{{missing[0]}}} is not a parameter")
    headers: dict[str, str] = {}
    if "headers" in fields:
        for key, value in reader.mapping(fields["headers"], f"{where}.headers", set()).items():
            if not isinstance(value, yaml.ScalarNode):
                raise reader.fail(value, f"{where}.headers.{key}", "must be a string")
            headers[key] = str(value.value)
    auth_header = auth_value = None
    if "auth_header" in fields:
        auth_node = fields["auth_header"]
        auth = reader.mapping(auth_node, f"{where}.auth_header", {"name", "env"})
        auth_header = reader.text(auth, auth_node, f"{where}.auth_header", "name", required=True)
        variable = reader.text(auth, auth_node, f"{where}.auth_header", "env", required=True)
        assert variable is not None
        auth_value = reader.env.get(variable)
        if not auth_value:
            raise reader.fail(auth["env"], f"{where}.auth_header.env", f"{variable} is not set")
    return http_tool(
        HttpToolSpec(
            name=name,
            description=reader.text(fields, node, where, "description", required=True) or "",
            url=url,
            method=method,
            parameters=parameters,
            headers=headers,
            auth_header=auth_header,
            auth_value=auth_value,
            timeout=reader.number(fields, where, "timeout", 5.0),
            retries=int(reader.number(fields, where, "retries", 0)),
            confirm=reader.flag(fields, where, "confirm"),
            confirm_prompt=reader.text(fields, node, where, "confirm_prompt"),
            filler=reader.text(fields, node, where, "filler"),
        )
    )


def _schema(reader: _Reader, node: yaml.Node, where: str) -> dict[str, Any]:
    """A JSON schema of the arguments: an object whose required names are properties."""
    value = yaml.safe_load(yaml.serialize(node))
    if not isinstance(value, dict) or value.get("type", "object") != "object":
        raise reader.fail(node, where, 'must be a JSON schema with type "object"')
    properties = value.setdefault("properties", {})
    if not isinstance(properties, dict):
        raise reader.fail(node, f"{where}.properties", "must be a mapping")
    value["type"] = "object"
    required = value.get("required", [])
    if not isinstance(required, list) or any(r not in properties for r in required):
        raise reader.fail(node, f"{where}.required", "must list names of properties")
    return value

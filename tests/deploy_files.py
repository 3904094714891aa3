"""Reading the deployment artefacts in `deploy/` (for tests/test_deploy_artefacts.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def manifest(kind: str, name: str = "callwright") -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def worker_container() -> dict[str, Any]:
    containers = manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split into build stages."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        assert stages, f"instruction before FROM: {line}"
        stages[-1].append(line)
    return stages


def instruction(stage: list[str], name: str) -> list[str]:
    """The arguments of every `name` instruction in a stage."""
    return [line.split(None, 1)[1] for line in stage if line.split()[0].upper() == name]


def dockerfile_env(stage: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction(stage, "ENV"):
        for token in shlex.split(args):
            key, _, value = token.partition("=")
            env[key] = value
    return env


def port_argument(args: list[str]) -> int:
    return int(args[args.index("--port") + 1])


def seconds(duration: str | int) -> float:
    """A compose duration such as "60s", "1m30s" or a plain number of seconds."""
    if isinstance(duration, int):
        return float(duration)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s|ms|us)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
    return sum(float(n) * scale[u] for n, u in parts)


def probe_paths() -> dict[str, str]:
    """Every health or scrape path an artefact calls, by who calls it."""
    container = worker_container()
    paths = {
        f"k8s {probe}": container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    (healthcheck,) = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    paths["Dockerfile HEALTHCHECK"] = re.findall(r"127\.0\.0\.1:\d+(/\w*)", healthcheck)[0]
    haproxy = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    paths["HAProxy check"] = re.findall(r"^\s*http-check send .*\buri (\S+)", haproxy, re.M)[0]
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    paths["Prometheus"] = prometheus["scrape_configs"][0]["metrics_path"]
    paths["ServiceMonitor"] = manifest("ServiceMonitor")["spec"]["endpoints"][0]["path"]
    return paths

"""The deployment artefacts in `deploy/` agree with the code they deploy.

Docker and Kubernetes do not run here: these tests parse the files and check them against the
server itself (the variables the code reads, its default port, the routes of `create_app`, the
metrics it really exports), so a renamed setting, route or metric breaks a test, not a rollout.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from callwright.agent.stack import AgentStack
from callwright.config import DrainSettings, SecuritySettings, Settings
from callwright.observe.metrics import CallMetrics
from callwright.server.app import create_app
from tests.deploy_files import (
    DEPLOY,
    REPO,
    compose,
    dockerfile_env,
    dockerfile_stages,
    instruction,
    manifest,
    port_argument,
    probe_paths,
    seconds,
    worker_container,
)
from tests.security.conftest import secure_server

VARIABLE = re.compile(r"^CALLWRIGHT_[A-Z0-9_]+$")


# --- what the code reads and exposes -------------------------------------------------------


def variables_the_code_reads() -> set[str]:
    """Every string literal in the package that is exactly a CALLWRIGHT_* name.

    Docstrings and messages mention variables in longer text, so only names the code looks up
    (or passes to the env parser) count.
    """
    names: set[str] = set()
    for path in (REPO / "callwright").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if VARIABLE.match(node.value):
                    names.add(node.value)
    return names


def exported_samples() -> dict[str, set[str]]:
    """Sample names the server's /metrics exposes, each with its label names.

    Every metric is touched once so that labelled ones have samples, then the real text
    exposition is parsed.
    """
    metrics = CallMetrics()
    metrics.call_started()
    metrics.call_ended("completed", contained=True)
    metrics.turn_latency.labels(stage="ttfa").observe(0.4)
    metrics.error("stt", "whisper")
    metrics.escalation()
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


# --- settings --------------------------------------------------------------------------------


def compose_variables() -> Iterator[tuple[str, str]]:
    for name, service in compose()["services"].items():
        env = service.get("environment", {})
        keys = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        yield from ((f"compose service {name}", key) for key in keys)
    for name, secret in compose().get("secrets", {}).items():
        if "environment" in secret:
            yield (f"compose secret {name}", secret["environment"])


def k8s_variables() -> Iterator[tuple[str, str]]:
    container = worker_container()
    for item in container.get("env", []):
        yield ("Deployment env", item["name"])
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        doc = manifest(kind, ref["name"])
        # Everything in an envFrom source becomes a variable of the server: all must be read.
        for key in {**doc.get("data", {}), **doc.get("stringData", {})}:
            yield (f"{kind} {ref['name']}", key)


def test_every_setting_in_the_artefacts_is_one_the_code_reads() -> None:
    read = variables_the_code_reads()
    # The scanner finds what the code reads (and only exact names).
    assert {"CALLWRIGHT_DRAIN_SECONDS", "CALLWRIGHT_DATABASE_URL", "CALLWRIGHT_AGENT"} <= read
    assert not any(" " in name for name in read)
    set_here = list(compose_variables()) + list(k8s_variables())
    set_here += [
        ("Dockerfile ENV", key)
        for stage in dockerfile_stages()
        for key in dockerfile_env(stage)
        if key.startswith("CALLWRIGHT")
    ]
    settings = [(where, key) for where, key in set_here if key.startswith("CALLWRIGHT")]
    assert len(settings) >= 10, settings
    unknown = [(where, key) for where, key in settings if key not in read]
    assert not unknown, f"settings the code never reads: {unknown}"
    # envFrom sources hold nothing but server settings.
    not_settings = [(w, k) for w, k in k8s_variables() if not VARIABLE.match(k)]
    assert not not_settings, not_settings


def test_the_settings_in_the_artefacts_parse() -> None:
    """The values themselves are valid for the code's own parser (a typo fails at rollout)."""
    worker = compose()["services"]["worker"]["environment"]
    Settings.from_env({k: str(v) for k, v in worker.items()})
    Settings.from_env(manifest("ConfigMap")["data"])


# --- drain -----------------------------------------------------------------------------------


def test_kubernetes_grace_period_outlasts_prestop_and_drain() -> None:
    assert "CALLWRIGHT_DRAIN_SECONDS" in manifest("ConfigMap")["data"]
    drain = DrainSettings.from_env(manifest("ConfigMap")["data"]).seconds
    container = worker_container()
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command
    pause = float(command[1])
    grace = manifest("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > pause + drain, (grace, pause, drain)


def test_compose_stop_grace_outlasts_the_drain() -> None:
    worker = compose()["services"]["worker"]
    drain = DrainSettings.from_env({k: str(v) for k, v in worker["environment"].items()})
    assert "CALLWRIGHT_DRAIN_SECONDS" in worker["environment"]
    assert seconds(worker["stop_grace_period"]) > drain.seconds


# --- ports, probes and routes --------------------------------------------------------------


def test_every_artefact_uses_the_servers_port() -> None:
    port = Settings().port
    final = dockerfile_stages()[-1]
    assert [int(p) for p in instruction(final, "EXPOSE")] == [port]
    assert port_argument(json.loads(instruction(final, "CMD")[0])) == port
    (healthcheck,) = instruction(final, "HEALTHCHECK")
    assert f"127.0.0.1:{port}/" in healthcheck

    worker = compose()["services"]["worker"]
    assert port_argument(worker["command"]) == port
    assert [int(p) for p in worker["expose"]] == [port]
    haproxy = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    assert re.search(rf"^\s*server-template \S+ \S+ worker:{port}\s", haproxy, re.M)
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert [sd["port"] for sd in job["dns_sd_configs"]] == [port]

    container = worker_container()
    assert port_argument(container["args"]) == port
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert set(named.values()) == {port}
    for svc_port in manifest("Service")["spec"]["ports"]:
        target = svc_port["targetPort"]
        assert named.get(target, target) == port


def test_probes_check_the_right_thing() -> None:
    """Readiness (balancers, Kubernetes) asks /readyz, which fails while draining; liveness
    asks /livez, which does not: a draining pod must not be restarted."""
    paths = probe_paths()
    assert paths["k8s readinessProbe"] == "/readyz"
    assert paths["HAProxy check"] == "/readyz"
    assert paths["k8s livenessProbe"] == "/livez"
    assert paths["k8s startupProbe"] == "/livez"
    assert paths["Dockerfile HEALTHCHECK"] == "/livez"


async def test_probe_and_scrape_paths_are_routes_of_the_real_server(
    stack: AgentStack, tmp_path: Path
) -> None:
    token = "deploy-test-scrape-token"
    paths = probe_paths()
    router = create_app(stack).router
    routes = {r.resource.canonical for r in router.routes() if r.method == "GET" and r.resource}
    missing = {who: path for who, path in paths.items() if path not in routes}
    assert not missing, f"paths the server has no route for: {missing}"
    # And they answer: 200, not a redirect to the sign-in page.
    async with secure_server(stack, tmp_path, SecuritySettings(metrics_token=token)) as server:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for who, path in paths.items():
                headers = {"Authorization": f"Bearer {token}"} if path == "/metrics" else {}
                url = server.base + path
                async with http.get(url, headers=headers, allow_redirects=False) as response:
                    assert response.status == 200, (who, path, response.status)
            # The scrape token is what Prometheus needs: without it, /metrics is closed.
            url = server.base + paths["Prometheus"]
            async with http.get(url, allow_redirects=False) as response:
                assert response.status == 401


def test_prometheus_and_servicemonitor_send_the_scrape_token() -> None:
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    auth = prometheus["scrape_configs"][0]["authorization"]
    secret_name = Path(auth["credentials_file"]).name
    assert auth.get("type", "Bearer") == "Bearer"
    services = compose()["services"]
    assert secret_name in services["prometheus"]["secrets"]
    assert compose()["secrets"][secret_name]["environment"] == "CALLWRIGHT_METRICS_TOKEN"
    assert "CALLWRIGHT_METRICS_TOKEN" in services["worker"]["environment"]
    monitor = manifest("ServiceMonitor")["spec"]["endpoints"][0]["authorization"]
    assert monitor["credentials"]["key"] == "CALLWRIGHT_METRICS_TOKEN"
    assert "CALLWRIGHT_METRICS_TOKEN" in manifest("Secret")["stringData"]


# --- metrics ---------------------------------------------------------------------------------


def promql_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b(callwright_[a-z0-9_]+)\b", expr))


def promql_labels(expr: str) -> set[str]:
    labels = set(re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr))
    names = {name.strip() for group in labels for name in group.split(",") if name.strip()}
    names |= set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)\s*\"", expr))
    # Labels Prometheus adds to every scraped sample, and the histogram bucket bound.
    return names - {"le", "instance", "job", "namespace", "pod"}


def test_dashboard_queries_only_exported_metrics() -> None:
    exported = exported_samples()
    dashboard = json.loads((DEPLOY / "grafana" / "callwright.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set().union(*(promql_metrics(e) for e in exprs))
    assert used, "the dashboard queries no callwright metric"
    assert used <= exported.keys(), used - exported.keys()
    for expr in exprs:
        labels = promql_labels(expr)
        known = set().union(*(exported[name] for name in promql_metrics(expr)))
        assert labels <= known, (expr, labels - known)
    # What the issue asks the dashboard to show: TTFA p50/p95, stages, live calls, errors.
    text = " ".join(exprs)
    assert 'stage="ttfa"' in text and "histogram_quantile(0.5," in text
    assert "histogram_quantile(0.95," in text and "by (le, stage)" in text
    assert "callwright_active_calls" in used and "callwright_errors_total" in used
    # And what readiness reads, so an operator sees why a worker left the balancer.
    assert {"callwright_event_loop_lag_seconds", "callwright_stt_queue_wait_seconds"} <= used


def test_the_autoscaler_uses_the_exported_live_calls_gauge() -> None:
    exported = exported_samples()
    (metric,) = manifest("HorizontalPodAutoscaler")["spec"]["metrics"]
    assert metric["type"] == "Pods"
    name = metric["pods"]["metric"]["name"]
    assert name in exported
    target = float(metric["pods"]["target"]["averageValue"])
    assert 0 < target <= int(manifest("ConfigMap")["data"]["CALLWRIGHT_MAX_CALLS"])
    rules = yaml.safe_load(manifest("ConfigMap", "callwright-adapter-rules")["data"]["config.yaml"])
    served = {rule["name"]["as"] for rule in rules["rules"]}
    assert name in served
    assert all(promql_metrics(r["seriesQuery"]) <= exported.keys() for r in rules["rules"])


# --- the image -------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    users = instruction(final, "USER")
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # The user is created in that stage with the uid the Kubernetes pod runs as.
    uid = manifest("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    created = " ".join(instruction(final, "RUN"))
    assert re.search(rf"useradd\b[^&]*--uid {uid}\b[^&]*\b{re.escape(user)}\b", created)
    assert instruction(final, "HEALTHCHECK")
    # The build tools stay in the build stage.
    assert "build-essential" not in created


def test_dockerfile_installs_the_models_like_run_sh() -> None:
    """The image holds the same model packages `./run.sh setup` installs (nothing at run time)."""
    run_sh = (REPO / "run.sh").read_text()
    (extras,) = re.findall(r'pip install -q -e "\.\[([^\]]+)\]"', run_sh)
    models = {e for e in extras.split(",") if e != "dev"}
    runs = " ".join(line for stage in dockerfile_stages() for line in instruction(stage, "RUN"))
    (image_extras,) = re.findall(r'pip install "\.\[([^\]]+)\]"', runs)
    assert models <= set(image_extras.split(","))
    (silero,) = re.findall(r'pip install -q (--no-deps "silero-vad[^"]*")', run_sh)
    assert silero in runs.replace("pip install ", "")
    final = " ".join(instruction(dockerfile_stages()[-1], "RUN"))
    assert "espeak-ng" in final


@pytest.mark.parametrize("path", ["README.md", "docs/ARCHITECTURE.md"])
def test_the_docs_point_to_the_deployment_guide(path: str) -> None:
    assert (REPO / "docs" / "deploy.md").is_file()
    assert "deploy.md" in (REPO / path).read_text()


def test_kustomization_applies_the_workload_but_never_the_secret_template() -> None:
    listed = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"]
    kinds = set()
    for name in listed:
        docs = yaml.safe_load_all((DEPLOY / "k8s" / name).read_text())
        kinds |= {doc["kind"] for doc in docs if doc}
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler"} <= kinds
    assert "PodDisruptionBudget" in kinds
    assert "Secret" not in kinds

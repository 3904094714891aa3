"""`callwright eval PATH`: runs a spoken scenario suite and writes its reports."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from callwright.agents.build import build_responders, runtime_for, settings_for
from callwright.agents.definition import Agent
from callwright.agents.loading import load_agent
from callwright.config import Settings
from callwright.core.responder import ResponderFactory
from callwright.evals.report import (
    compare,
    pass_rates,
    print_table,
    write_html,
    write_json,
    write_junit,
)
from callwright.evals.runner import AgentBuilder, EvalOptions, EvalRunner, PairResult
from callwright.evals.scenario import Scenario, load_scenarios
from callwright.sim.conditions import CONDITIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `eval` subcommand's flags."""
    parser.add_argument("path", type=Path, help="a scenario file or a folder of them")
    parser.add_argument("--agent", default=os.environ.get("CALLWRIGHT_AGENT"),
                        help="module:attribute, path/to/agent.py or agent.yaml, as for "
                        "`callwright serve` (env CALLWRIGHT_AGENT)")  # fmt: skip
    parser.add_argument("--transport", choices=["ws", "twilio"], default="ws",
                        help="for conditions other than phone and lossy (Twilio)")  # fmt: skip
    parser.add_argument("--conditions", help="comma-separated; default: each scenario's own")
    parser.add_argument("--within", help="comma-separated: of each scenario's own conditions, "
                        "only these (the suite's own pairs, one condition at a time)")  # fmt: skip
    parser.add_argument("--parallel", type=int, default=2, help="calls at once (default 2)")
    parser.add_argument("--subset", help="only scenarios with this tag (e.g. fast)")
    parser.add_argument("--only", help="only scenarios whose name contains this (or, comma-"
                        "separated, one of these: the pairs that failed)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("eval-out"),
                        help="folder for results.json, recordings and agent data")  # fmt: skip
    parser.add_argument("--json", type=Path, help="results JSON (default OUT/results.json)")
    parser.add_argument("--junit", type=Path, help="write JUnit XML here")
    parser.add_argument("--html", type=Path, help="write the HTML report here")
    parser.add_argument("--compare", type=Path, help="a previous run's results JSON")
    parser.add_argument("--llm-caller", action="store_true",
                        help="persona callers played by CALLWRIGHT_LLM_BASE_URL")  # fmt: skip
    parser.add_argument("--min-pass-rate", type=float, default=0.0,
                        help="exit 1 when the overall pass rate is below this (0-1)")  # fmt: skip


def select_pairs(
    scenarios: list[Scenario],
    conditions: list[str] | None = None,
    subset: str | None = None,
    only: str | None = None,
    within: list[str] | None = None,
) -> list[tuple[Scenario, str]]:
    """Scenario x condition pairs to run: each scenario's own conditions, or the given ones.

    `within` keeps, of the conditions a pair would run under, only these: the suite as it is,
    run one condition at a time on a shared machine. `only` is a part of a name, or several
    separated by commas (any of them).
    """
    parts = [o.strip() for o in (only or "").split(",") if o.strip()]
    pairs = []
    for scenario in scenarios:
        if subset and subset not in scenario.tags:
            continue
        if parts and not any(part in scenario.name for part in parts):
            continue
        for cond in conditions or scenario.conditions:
            if within is not None and cond not in within:
                continue
            if cond == "talk_over" and scenario.persona:
                continue  # talking over needs a scripted caller
            pairs.append((scenario, cond))
    return pairs


def agent_builder(agent: Agent, settings: Settings) -> AgentBuilder:
    """Makes a fresh copy of the agent's responders per pair, each with its own data folder."""

    async def fresh(data_dir: Path) -> ResponderFactory:
        runtime = runtime_for(replace(settings, data_dir=data_dir), env={})
        return await build_responders(agent, runtime)

    return fresh


async def run_pairs(
    pairs: list[tuple[Scenario, str]], args: argparse.Namespace
) -> list[PairResult]:
    """Loads the stack once and runs the pairs, printing each verdict as it comes."""
    from callwright.server.runtime import load_stack

    if not args.agent:
        raise SystemExit("eval: no agent: pass --agent or set CALLWRIGHT_AGENT")
    agent = load_agent(args.agent)
    out: Path = args.out
    settings = settings_for(replace(Settings.from_env(), data_dir=out / "server"), agent)
    stack = await load_stack(settings, agent)
    options = EvalOptions(transport=args.transport, parallel=max(1, args.parallel),
                          work_dir=out, llm_caller=args.llm_caller)  # fmt: skip
    runner = EvalRunner(stack, agent_builder(agent, settings), options)
    print(f"eval: {len(pairs)} pairs, {options.parallel} at a time, over {args.transport}",
          flush=True)  # fmt: skip

    def progress(result: PairResult) -> None:
        verdict = "pass" if result.passed else "FAIL " + "; ".join(result.reasons)[:100]
        print(f"  {result.key}: {verdict} ({result.seconds:.0f} s)", flush=True)

    try:
        return await runner.run(pairs, progress)
    finally:
        await stack.store.close()


def main(args: argparse.Namespace) -> int:
    """Runs the suite, prints the table, writes the reports; 1 below `--min-pass-rate`."""
    scenarios = load_scenarios(args.path, dt.date.today())
    conditions = args.conditions.split(",") if args.conditions else None
    within = args.within.split(",") if args.within else None
    for cond in [*(conditions or []), *(within or [])]:
        if cond not in CONDITIONS:
            raise SystemExit(f"unknown condition {cond!r}; known: {', '.join(CONDITIONS)}")
    pairs = select_pairs(scenarios, conditions, args.subset, args.only, within)
    if not pairs:
        raise SystemExit("no scenario x condition pairs selected")
    args.out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run_pairs(pairs, args))
    print_table(results, sys.stdout)
    write_json(results, args.json or args.out / "results.json")
    if args.junit:
        write_junit(results, args.junit)
    if args.html:
        write_html(results, args.html, args.out)
    if args.compare:
        compare(results, json.loads(args.compare.read_text(encoding="utf-8")), sys.stdout)
    passed, total = pass_rates(results)["overall"]
    return 0 if passed >= args.min_pass_rate * total else 1

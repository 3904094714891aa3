"""Command line: `callwright serve` runs an agent, `callwright call` places a simulated call,
`callwright load` ramps simulated calls against a server, `callwright new NAME` creates a new
agent folder, `callwright eval` runs a spoken scenario suite,
`callwright users` and `callwright keys` manage operator accounts and API keys, `callwright dnc`
the do-not-call list, `callwright consent` consent records, `callwright campaigns` outbound
campaigns."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from callwright.campaigns.commands import add_parsers as add_campaign_parsers
from callwright.campaigns.commands import run as run_campaigns
from callwright.compliance.commands import add_parsers as add_dnc_parsers
from callwright.compliance.commands import run as run_dnc
from callwright.config import LlmSettings, Settings
from callwright.core import env as read
from callwright.operators import add_parsers as add_operator_parsers
from callwright.operators import run as run_operators
from callwright.sim.load_command import add_parser as add_load_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callwright", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server with an agent")
    serve.add_argument(
        "--agent",
        default=read.text(os.environ, "CALLWRIGHT_AGENT"),
        help="module:attribute, path/to/agent.py or agent.yaml (env CALLWRIGHT_AGENT)",
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", type=Path)
    serve.add_argument("--stt-model", help='"tiny.en" (default), "base", or a model folder')
    serve.add_argument("--stt-window", choices=["speech", "full"])
    serve.add_argument("--tts", choices=["piper", "espeak"])
    serve.add_argument(
        "--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1"
    )
    serve.add_argument("--llm-model", default="default")
    serve.add_argument(
        "--processes",
        type=int,
        default=read.integer(os.environ, "CALLWRIGHT_PROCESSES", 1, minimum=1),
        help="worker processes sharing the port with SO_REUSEPORT (env CALLWRIGHT_PROCESSES)",
    )

    call = sub.add_parser("call", help="place a simulated call and print the conversation")
    call.add_argument("--url", default="ws://127.0.0.1:8765/v1/ws")
    call.add_argument("--say", action="append", default=[], help="a caller line (repeatable)")
    call.add_argument("--voice", default="en-us", help="espeak-ng voice of the caller")
    call.add_argument("--no-transcribe", action="store_true", help="skip transcribing the agent")
    call.add_argument(
        "--api-key", help="operator API key (default: $CALLWRIGHT_API_KEY); /v1/ws needs one"
    )
    add_load_parser(sub)
    add_operator_parsers(sub)
    add_dnc_parsers(sub)
    add_campaign_parsers(sub)

    new = sub.add_parser("new", help="create a folder with a new agent, its test and scenario")
    new.add_argument("name", help="the agent's name (and the folder's)")
    new.add_argument("--dir", type=Path, default=Path("."), help="where to create the folder")

    from callwright.evals import cli as eval_cli

    eval_cli.add_arguments(sub.add_parser("eval", help="run a spoken scenario suite"))

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=read.text(os.environ, "CALLWRIGHT_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        return _serve(args, list(sys.argv[1:] if argv is None else argv))
    if args.command == "new":
        return _new(args)
    if args.command in ("users", "keys"):
        return asyncio.run(run_operators(args, Settings.from_env()))
    if args.command == "eval":
        return eval_cli.main(args)
    if args.command in ("dnc", "consent"):
        return asyncio.run(run_dnc(args, Settings.from_env().store_path))
    if args.command == "load":
        from callwright.sim.load_command import run as run_load

        return run_load(args)
    if args.command == "campaigns":
        return asyncio.run(run_campaigns(args, Settings.from_env().store_path))
    return asyncio.run(_call(args))


def _serve(args: argparse.Namespace, argv: list[str]) -> int:
    from aiohttp import web

    from callwright.agents.build import settings_for
    from callwright.agents.loading import AgentLoadError, load_agent
    from callwright.compliance.settings import ComplianceSettings
    from callwright.server import processes
    from callwright.server.agents import parse_agent_specs
    from callwright.server.app import create_app
    from callwright.server.runtime import load_named_agents, load_stack

    if not args.agent:
        print("callwright: no agent: pass --agent or set CALLWRIGHT_AGENT", file=sys.stderr)
        return 2
    try:
        agent = load_agent(args.agent)
    except AgentLoadError as exc:
        print(f"callwright: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if args.host:
        settings = replace(settings, host=args.host)
    if args.port:
        settings = replace(settings, port=args.port)
    if args.data_dir:
        settings = replace(settings, data_dir=args.data_dir)
    if args.stt_model or args.stt_window:
        settings = replace(
            settings,
            stt=replace(
                settings.stt,
                model=args.stt_model or settings.stt.model,
                window=args.stt_window or settings.stt.window,
            ),
        )
    if args.tts:
        settings = replace(settings, tts=args.tts)
    if args.llm_base_url:
        settings = replace(
            settings,
            llm=replace(
                settings.llm or LlmSettings(args.llm_base_url, args.llm_model),
                base_url=args.llm_base_url,
                model=args.llm_model,
                api_key=read.text(os.environ, "CALLWRIGHT_LLM_API_KEY"),
            ),
        )

    settings = settings_for(settings, agent)
    child = processes.is_child(os.environ)
    if args.processes > 1 and not child:
        return _supervise(args.processes, argv, settings)
    if read.text(os.environ, "CALLWRIGHT_CONSOLE_TOKEN"):
        logging.getLogger(__name__).warning(
            "CALLWRIGHT_CONSOLE_TOKEN is ignored: the console signs in users (docs/security.md)"
        )

    compliance = ComplianceSettings.from_env()
    from callwright.sip.settings import SipSettings

    try:
        named_agents = parse_agent_specs(os.environ.get("CALLWRIGHT_AGENTS"))
    except ValueError as exc:
        print(f"callwright: {exc}", file=sys.stderr)
        return 2

    async def app_factory() -> web.Application:
        stack = await load_stack(settings, agent)
        stack = replace(
            stack,
            opt_out=compliance.opt_out_options(stack.opt_out),
            disclosure=compliance.disclosure_options(stack.disclosure),
            machine=replace(
                stack.machine, enabled=compliance.listen_first, voicemail=compliance.voicemail
            ),
        )
        return create_app(
            stack,
            settings.telephony,
            limits=settings.limits,
            drain=settings.drain,
            worker=settings.worker,
            security=settings.security,
            compliance=compliance,
            sip=SipSettings.from_env(),
            agents=await load_named_agents(settings, stack, named_agents),
        )

    print(
        f"callwright: serving {agent.name} on ws://{settings.host}:{settings.port}/v1/ws",
        flush=True,
    )
    web.run_app(
        app_factory(), host=settings.host, port=settings.port, print=None, reuse_port=child or None
    )
    return 0


SPLIT_DESK_WARNING = (
    "callwright: WARNING: {count} worker processes on SQLite: each process has a handoff queue"
    " and console of its own. A person signed in to the console sees and picks up only the"
    " callers of the process their connection reached, and callers elsewhere hear that nobody"
    " is free. Set CALLWRIGHT_DATABASE_URL (PostgreSQL) to share one queue among the"
    " processes, or serve one process if people take calls at the console."
)


def _supervise(count: int, argv: list[str], settings: Settings) -> int:
    """`serve --processes N`: N workers on one port (server/processes.py)."""
    import socket

    from callwright.server.processes import Supervisor, reserve_port

    argv = _without_option(argv, "--processes")
    held = reserve_port(settings.host) if settings.port == 0 else None
    port = int(held.getsockname()[1]) if held is not None else settings.port
    worker_id = settings.worker.worker_id or f"{socket.gethostname()}:{port}"
    print(f"callwright: {count} worker processes on port {port}", flush=True)
    if not settings.database_url:
        # Not refused: the store, the outbound limits and campaigns hold across processes on
        # one SQLite file; only the handoff desk and the consoles stay in each process.
        print(SPLIT_DESK_WARNING.format(count=count), file=sys.stderr, flush=True)
    try:
        return Supervisor(count, argv, settings.host, port, worker_id).run()
    finally:
        if held is not None:
            held.close()


def _without_option(argv: list[str], name: str) -> list[str]:
    """`argv` without `name VALUE` and `name=VALUE`."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept


def _new(args: argparse.Namespace) -> int:
    from callwright.scaffold import scaffold

    try:
        folder = scaffold(args.name, args.dir)
    except ValueError as exc:
        print(f"callwright: {exc}", file=sys.stderr)
        return 2
    print(f"created {folder}: cd {folder} && pytest && callwright serve --agent agent.py")
    return 0


async def _call(args: argparse.Namespace) -> int:
    from callwright.sim.caller import CallerSimulator, ScriptLine
    from callwright.sim.report import print_report, transcribe_report
    from callwright.tts.espeak import EspeakTts

    lines = args.say or [
        "Hi, what are your opening hours?",
        "What is your address?",
        "Thank you, goodbye.",
    ]
    api_key = args.api_key or read.text(os.environ, "CALLWRIGHT_API_KEY")
    simulator = CallerSimulator(args.url, EspeakTts(voice=args.voice), api_key=api_key)
    report = await simulator.run([ScriptLine(text) for text in lines])
    if not args.no_transcribe:
        await transcribe_report(report, simulator.sample_rate)
    print_report(report, sys.stdout)
    return 0 if report.turns else 1


if __name__ == "__main__":
    raise SystemExit(main())

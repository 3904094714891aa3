"""Command line: `callwright serve` runs the server, `callwright call` places a simulated call,
`callwright eval` runs a spoken scenario suite."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from callwright.config import LlmSettings, Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callwright", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server with the demo agent")
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

    call = sub.add_parser("call", help="place a simulated call and print the conversation")
    call.add_argument("--url", default="ws://127.0.0.1:8765/v1/ws")
    call.add_argument("--say", action="append", default=[], help="a caller line (repeatable)")
    call.add_argument("--voice", default="en-us", help="espeak-ng voice of the caller")
    call.add_argument("--no-transcribe", action="store_true", help="skip transcribing the agent")

    from callwright.evals import cli as eval_cli

    eval_cli.add_arguments(sub.add_parser("eval", help="run a spoken scenario suite"))

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CALLWRIGHT_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        return _serve(args)
    if args.command == "eval":
        return eval_cli.main(args)
    return asyncio.run(_call(args))


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from callwright.server.app import create_app
    from callwright.server.runtime import load_stack

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
            llm=LlmSettings(
                args.llm_base_url, args.llm_model, os.environ.get("CALLWRIGHT_LLM_API_KEY")
            ),
        )

    async def app_factory() -> web.Application:
        token = os.environ.get("CALLWRIGHT_CONSOLE_TOKEN") or None
        return create_app(await load_stack(settings), settings.telephony, token)

    print(f"callwright: serving on ws://{settings.host}:{settings.port}/v1/ws", flush=True)
    web.run_app(app_factory(), host=settings.host, port=settings.port, print=None)
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
    simulator = CallerSimulator(args.url, EspeakTts(voice=args.voice))
    report = await simulator.run([ScriptLine(text) for text in lines])
    if not args.no_transcribe:
        await transcribe_report(report, simulator.sample_rate)
    print_report(report, sys.stdout)
    return 0 if report.turns else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`callwright dnc ...`: the do-not-call list from the command line.

The commands write to the database the server uses (`CALLWRIGHT_DATA_DIR`'s SQLite file, or
`CALLWRIGHT_DATABASE_URL`), so they work while the server runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO, cast

from callwright.compliance.dnc import DoNotCallList, read_number_csv
from callwright.compliance.numbers import NumberError
from callwright.compliance.settings import ComplianceSettings
from callwright.compliance.tables import SqlStore
from callwright.store.open import open_store


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the `dnc` command."""
    dnc = sub.add_parser("dnc", help="the do-not-call list (numbers never dialled)")
    dnc_sub = dnc.add_subparsers(dest="action", required=True)
    imported = dnc_sub.add_parser("import", help="add the numbers of a CSV file")
    imported.add_argument("file", type=Path)
    imported.add_argument("--source", help="where the list came from (default: the file name)")
    for name, help_text in (
        ("add", "add one number"),
        ("remove", "take one number off the list"),
        ("check", "say whether a number is on the list (exit status 1 if it is)"),
    ):
        one = dnc_sub.add_parser(name, help=help_text)
        one.add_argument("number")
    listed = dnc_sub.add_parser("list", help="the newest entries")
    listed.add_argument("--limit", type=int, default=100)


async def run(
    args: argparse.Namespace,
    store_path: Path,
    settings: ComplianceSettings | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Runs one `dnc` command against the configured store."""
    region = (settings or ComplianceSettings.from_env()).default_region
    store = await open_store(store_path)
    try:
        dnc = DoNotCallList(cast(SqlStore, store))
        return await _dnc(args, dnc, region, out)
    except NumberError as exc:
        print(f"callwright: {exc}", file=sys.stderr)
        return 2
    finally:
        await store.close()


async def _dnc(args: argparse.Namespace, dnc: DoNotCallList, region: str, out: TextIO) -> int:
    if args.action == "import":
        numbers, rejected = await asyncio.to_thread(read_number_csv, args.file, region)
        source = f"import:{args.source or args.file.name}"
        added = await dnc.add_many(numbers, source)
        print(f"{len(numbers)} numbers read, {added} new, {rejected} lines without one", file=out)
    elif args.action == "add":
        new = await dnc.add(args.number, "operator", region=region)
        print("added" if new else "already on the list", file=out)
    elif args.action == "remove":
        if not await dnc.remove(args.number, region):
            print("not on the list", file=out)
            return 1
        print("removed", file=out)
    elif args.action == "check":
        entry = await dnc.find(args.number, region)
        if entry is None:
            print("not on the list", file=out)
            return 0
        print(f"{entry.number}\ton the list\t{entry.source}\t{entry.reason}", file=out)
        return 1
    else:
        for entry in await dnc.entries(args.limit):
            print(f"{entry.number}\t{entry.source}\t{entry.reason}", file=out)
    return 0

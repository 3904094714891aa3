"""`callwright dnc ...` and `callwright consent ...`: the do-not-call list and the consent
records from the command line.

The commands write to the database the server uses (`CALLWRIGHT_DATA_DIR`'s SQLite file, or
`CALLWRIGHT_DATABASE_URL`), so they work while the server runs. Every change is in the
compliance log and, with the operating-system user as the actor, in the access audit log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any, TextIO, cast

from callwright.compliance.consent import METHODS
from callwright.compliance.lists import ComplianceLists
from callwright.compliance.numbers import NumberError
from callwright.compliance.settings import ComplianceSettings
from callwright.compliance.tables import SqlStore
from callwright.store.access import AccessStore
from callwright.store.open import open_store


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the `dnc` and `consent` commands."""
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
        if name != "check":
            one.add_argument("--reason", default="", help="why (kept in the compliance log)")
    listed = dnc_sub.add_parser("list", help="the newest entries")
    listed.add_argument("--limit", type=int, default=100)

    consent = sub.add_parser("consent", help="consent records for automated outbound calls")
    consent_sub = consent.add_subparsers(dest="action", required=True)
    add = consent_sub.add_parser("add", help="record a consent")
    add.add_argument("number")
    add.add_argument("--purpose", required=True, help="what the calls are for ('*': any)")
    add.add_argument("--method", required=True, choices=METHODS)
    add.add_argument("--evidence", default="", help="where the proof is (form id, document)")
    add.add_argument("--obtained-at", help="when it was given (ISO 8601; default: now)")
    listed = consent_sub.add_parser("list", help="a number's records, revoked ones included")
    listed.add_argument("number")
    revoke = consent_sub.add_parser("revoke", help="revoke a number's consent")
    revoke.add_argument("number")
    revoke.add_argument("--reason", required=True)
    revoke.add_argument("--purpose", help="only this purpose (default: all)")
    imported = consent_sub.add_parser(
        "import", help="record the consents of a CSV file (number,purpose,method,evidence,"
        "obtained_at)"
    )  # fmt: skip
    imported.add_argument("file", type=Path)
    imported.add_argument("--source", help="where the list came from (default: the file name)")


async def run(
    args: argparse.Namespace,
    store_path: Path,
    settings: ComplianceSettings | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Runs one `dnc` or `consent` command against the configured store."""
    region = (settings or ComplianceSettings.from_env()).default_region
    store = await open_store(store_path)
    try:
        sql = cast(SqlStore, store)
        lists = ComplianceLists(sql, region)
        access = await AccessStore.open(sql)

        async def audit(action: str, target: str | None, **detail: Any) -> None:
            await access.audit(_operator(), "cli", action, target, None, detail)

        if args.command == "consent":
            return await _consent(args, lists, audit, out)
        return await _dnc(args, lists, audit, out)
    except (NumberError, ValueError, OSError) as exc:
        print(f"callwright: {exc}", file=sys.stderr)
        return 2
    finally:
        await store.close()


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def _dnc(args: argparse.Namespace, lists: ComplianceLists, audit: Any, out: TextIO) -> int:
    if args.action == "import":
        source = f"import:{args.source or args.file.name}"
        count = await lists.dnc_import(args.file, source)
        await audit("compliance.dnc_imported", None, source=source, **count.to_dict())
        print(f"{count.read} numbers read, {count.added} new, {count.rejected} lines without one",
              file=out)  # fmt: skip
    elif args.action == "add":
        number, new = await lists.dnc_add(args.number, "operator", args.reason)
        await audit("compliance.dnc_added", number, new=new)
        print("added" if new else "already on the list", file=out)
    elif args.action == "remove":
        number, removed = await lists.dnc_remove(args.number, args.reason)
        await audit("compliance.dnc_removed", number, removed=removed)
        if not removed:
            print("not on the list", file=out)
            return 1
        print("removed", file=out)
    elif args.action == "check":
        entry = await lists.dnc.find(args.number, lists.region)
        if entry is None:
            print("not on the list", file=out)
            return 0
        print(f"{entry.number}\ton the list\t{entry.source}\t{entry.reason}", file=out)
        return 1
    else:
        for entry in await lists.dnc.entries(args.limit):
            print(f"{entry.number}\t{entry.source}\t{entry.reason}", file=out)
    return 0


async def _consent(
    args: argparse.Namespace, lists: ComplianceLists, audit: Any, out: TextIO
) -> int:
    if args.action == "add":
        obtained = None
        if args.obtained_at:
            parsed = dt.datetime.fromisoformat(args.obtained_at)
            obtained = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
        record = await lists.consent_add(args.number, args.purpose, args.method, args.evidence,
                                         obtained, via="cli")  # fmt: skip
        await audit("compliance.consent_added", record.number, purpose=record.purpose)
        print(record.consent_id, file=out)
    elif args.action == "revoke":
        number, revoked = await lists.consent_revoke(args.number, args.reason, args.purpose,
                                                     via="cli")  # fmt: skip
        await audit("compliance.consent_revoked", number, revoked=revoked)
        print(f"{revoked} revoked", file=out)
        return 0 if revoked else 1
    elif args.action == "import":
        source = args.source or args.file.name
        count = await lists.consent_import(args.file, source)
        await audit("compliance.consent_imported", None, source=source, **count.to_dict())
        print(f"{count.read} records read, {count.added} added, {count.rejected} lines rejected",
              file=out)  # fmt: skip
    else:
        for r in await lists.consent.of(args.number, lists.region):
            state = "revoked " + _iso(r.revoked_at) if r.revoked_at is not None else "valid"
            print(f"{r.number}\t{r.purpose}\t{r.method}\t{_iso(r.obtained_at)}\t{state}\t"
                  f"{r.evidence}", file=out)  # fmt: skip
    return 0


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")

"""`callwright campaigns ...`: create, list, show, pause, resume and cancel campaigns.

The commands write to the database the server uses; a running server's runner places the calls.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO, cast

from callwright.campaigns.contacts import parse_contacts
from callwright.campaigns.records import CampaignPlan, CampaignStatus
from callwright.campaigns.store import CampaignStore
from callwright.compliance.numbers import NumberError, to_e164
from callwright.compliance.tables import SqlStore
from callwright.store.open import open_store

MOVES: dict[str, tuple[CampaignStatus, tuple[str, ...]]] = {
    "pause": ("paused", ("running", "scheduled")),
    "resume": ("running", ("paused",)),
    "cancel": ("cancelled", ("running", "paused", "scheduled")),
}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the `campaigns` command."""
    campaigns = sub.add_parser("campaigns", help="outbound campaigns")
    actions = campaigns.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a campaign from a CSV or JSON list")
    create.add_argument("contacts", type=Path)
    create.add_argument("--name", required=True)
    create.add_argument("--from", dest="from_number", required=True, help="the caller id")
    create.add_argument("--purpose", required=True, help="the consent purpose of its calls")
    create.add_argument("--concurrency", type=int, default=2)
    create.add_argument("--pace", type=float, default=2.0, help="seconds between dials")
    create.add_argument("--attempts", type=int, default=3)
    create.add_argument("--backoff", type=float, default=900.0, help="seconds before a retry")
    actions.add_parser("list", help="campaigns and their progress")
    for name in ("show", *MOVES):
        one = actions.add_parser(name, help=f"{name} a campaign")
        one.add_argument("campaign_id")


async def run(args: argparse.Namespace, store_path: Path, out: TextIO = sys.stdout) -> int:
    """Runs one `campaigns` command against the configured store."""
    store = await open_store(store_path)
    try:
        campaigns = CampaignStore(cast(SqlStore, store))
        return await _run(args, campaigns, out)
    except (NumberError, ValueError) as exc:
        print(f"callwright: {exc}", file=sys.stderr)
        return 2
    finally:
        await store.close()


async def _run(args: argparse.Namespace, campaigns: CampaignStore, out: TextIO) -> int:
    if args.action == "create":
        text = args.contacts.read_text(encoding="utf-8-sig")
        fmt = "json" if args.contacts.suffix.lower() == ".json" else "csv"
        listed = parse_contacts(text, fmt)
        plan = CampaignPlan(
            args.name, to_e164(args.from_number), args.purpose, args.concurrency, args.pace,
            args.attempts, args.backoff,
        )  # fmt: skip
        campaign_id = await campaigns.create(plan, listed.contacts)
        for problem in listed.rejected:
            print(f"skipped {problem}", file=sys.stderr)
        print(campaign_id, file=out)
    elif args.action == "list":
        for campaign in await campaigns.all():
            progress = await campaigns.progress(campaign.campaign_id)
            counts = " ".join(f"{k}={v}" for k, v in sorted(progress.items()))
            print(f"{campaign.campaign_id}\t{campaign.status}\t{campaign.plan.name}\t{counts}",
                  file=out)  # fmt: skip
    elif args.action == "show":
        for contact in await campaigns.contacts(args.campaign_id):
            print(f"{contact.contact_id}\t{contact.number}\t{contact.status}\t"
                  f"{contact.attempts}\t{contact.outcome or ''}", file=out)  # fmt: skip
    else:
        status, only_from = MOVES[args.action]
        if not await campaigns.set_status(args.campaign_id, status, only_from):
            print(f"cannot {args.action} {args.campaign_id} now", file=sys.stderr)
            return 1
        if args.action == "cancel":
            await campaigns.cancel_pending(args.campaign_id)
        print(f"{args.campaign_id}: {status}", file=out)
    return 0

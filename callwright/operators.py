"""`callwright users ...` and `callwright keys ...`: operator accounts and API keys.

They write to the same database the server uses (`CALLWRIGHT_DATA_DIR`'s SQLite file, or
`CALLWRIGHT_DATABASE_URL`), so they work while the server runs. An API key is printed once,
on creation; only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO, cast

from callwright.config import Settings
from callwright.server.auth import hash_password, new_api_key, role_of
from callwright.store.access import ROLES, AccessStore, SqlStore
from callwright.store.open import open_store

MIN_PASSWORD = 10


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the `users` and `keys` commands."""
    users = sub.add_parser("users", help="operator accounts (dashboard, talk page, console)")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="add a user, or reset their role and password")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    users_sub.add_parser("list", help="list users")
    remove = users_sub.add_parser("remove", help="remove a user and end their sessions")
    remove.add_argument("name")

    keys = sub.add_parser("keys", help="API keys for /v1/* (Authorization: Bearer ...)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="create a key (printed once)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", default="", help="what the key is for")
    keys_sub.add_parser("list", help="list keys (never their secrets)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")


def read_password(stdin: TextIO = sys.stdin) -> str:
    """From a prompt (typed twice) on a terminal, else the first line of standard input."""
    if stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("the passwords differ")
        password = first
    else:
        password = stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise SystemExit(f"a password needs at least {MIN_PASSWORD} characters")
    return password


async def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Runs one `users` or `keys` command against the configured store."""
    store = await open_store(settings.store_path, settings.store_env)
    try:
        access = await AccessStore.open(cast(SqlStore, store))
        if args.command == "users":
            return await _users(args, access, out)
        return await _keys(args, access, out)
    finally:
        await store.close()


async def _users(args: argparse.Namespace, access: AccessStore, out: TextIO) -> int:
    if args.action == "add":
        role = role_of(args.role)
        new = await access.add_user(args.name, role, await hash_password(read_password()))
        if not new:
            await access.revoke_sessions_of(args.name)
        print(f"{'added' if new else 'updated'} user {args.name} ({role})", file=out)
    elif args.action == "list":
        for user in await access.list_users():
            print(f"{user.name}\t{user.role}", file=out)
    elif not await access.remove_user(args.name):
        print(f"no user {args.name}", file=sys.stderr)
        return 1
    else:
        print(f"removed user {args.name}", file=out)
    return 0


async def _keys(args: argparse.Namespace, access: AccessStore, out: TextIO) -> int:
    if args.action == "create":
        secret, key = new_api_key(role_of(args.role), args.name)
        await access.add_key(key)
        print(f"key {key.key_id} ({key.role}) created; it is shown only now:", file=sys.stderr)
        print(secret, file=out)
    elif args.action == "list":
        for key in await access.list_keys():
            state = "revoked" if key.revoked_at is not None else "active"
            print(f"{key.key_id}\t{key.role}\t{state}\t{key.name}", file=out)
    elif not await access.revoke_key(args.key_id):
        print(f"no active key {args.key_id}", file=sys.stderr)
        return 1
    else:
        print(f"revoked key {args.key_id}", file=out)
    return 0

"""Contact lists: CSV (a `number` column, every other column a parameter) or JSON
(`[{"number": ..., "parameters": {...}}]` or flat objects), numbers normalised to E.164."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from callwright.compliance.numbers import NumberError, to_e164

MAX_CONTACTS = 100_000
MAX_PARAMETER_CHARS = 500
NUMBER_COLUMNS = ("number", "phone", "phone_number", "to", "mobile")


@dataclass(frozen=True, slots=True)
class Contact:
    """One person to call, with what the agent should know about them."""

    number: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactList:
    """The contacts read, and the rows that were refused (with why)."""

    contacts: list[Contact]
    rejected: list[str]


def parse_contacts(text: str, fmt: str, region: str = "US") -> ContactList:
    """Reads a CSV or JSON contact list.

    Raises:
        ValueError: not CSV/JSON of the expected shape, or too many contacts.
    """
    rows = _json_rows(text) if fmt == "json" else _csv_rows(text)
    contacts: list[Contact] = []
    rejected: list[str] = []
    seen: set[str] = set()
    for index, (raw, params) in enumerate(rows, start=1):
        try:
            number = to_e164(raw, region)
        except NumberError as exc:
            rejected.append(f"row {index}: {exc}")
            continue
        if number in seen:
            rejected.append(f"row {index}: {number} is listed twice")
            continue
        seen.add(number)
        clean = {str(k)[:64]: str(v)[:MAX_PARAMETER_CHARS] for k, v in params.items() if k}
        contacts.append(Contact(number, clean))
        if len(contacts) > MAX_CONTACTS:
            raise ValueError(f"a campaign takes at most {MAX_CONTACTS} contacts")
    return ContactList(contacts, rejected)


def _csv_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    column = next((c for c in NUMBER_COLUMNS if c in fields), None)
    if column is None:
        raise ValueError(f"the CSV needs a number column ({', '.join(NUMBER_COLUMNS)})")
    rows = []
    for row in reader:
        clean = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        number = clean.pop(column, "")
        rows.append((number, clean))
    return rows


def _json_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("contacts")
    if not isinstance(data, list):
        raise ValueError('JSON contacts: a list, or {"contacts": [...]}')
    rows = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError("JSON contacts: each contact is an object")
        params = item.get("parameters")
        if not isinstance(params, dict):
            params = {k: v for k, v in item.items() if k != "number"}
        rows.append((str(item.get("number", "")), params))
    return rows

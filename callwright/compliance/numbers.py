"""Phone numbers in one form: E.164, parsed with the `phonenumbers` library.

Every number that enters callwright (the outbound API, webhooks' From/To, contact lists,
do-not-call imports) goes through here, so "+1 (415) 555-0100", "415.555.0100" and
"+14155550100" are the same number everywhere: in the do-not-call list, in consent records and
on the call's record.
"""

from __future__ import annotations

import phonenumbers

MAX_RAW_LENGTH = 64  # longer input is not a phone number; never hand it to the parser


class NumberError(ValueError):
    """A string that is not a phone number that could be dialled."""


def to_e164(raw: str, region: str = "US") -> str:
    """The E.164 form of `raw`.

    Args:
        raw: the number as written: "+44 20 7946 0018", "(415) 555-0100", "tel:+1415...".
        region: the country of numbers written without a country code.

    Raises:
        NumberError: `raw` is not a possible phone number.
    """
    text = raw.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    if not text or len(text) > MAX_RAW_LENGTH:
        raise NumberError(f"not a phone number: {raw[:MAX_RAW_LENGTH]!r}")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(f"not a phone number: {raw!r} ({exc})") from exc
    # IS_POSSIBLE only: a local-only length ("555 1234") is not a number anyone can dial.
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise NumberError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_or_as_given(raw: str | None, region: str = "US") -> str | None:
    """E.164 if `raw` is a phone number; else `raw` unchanged.

    For what a platform says the caller is: "anonymous", "client:alice" or a SIP URI are not
    numbers, and are kept as they came rather than refused.
    """
    if not raw:
        return raw
    try:
        return to_e164(raw, region)
    except NumberError:
        return raw

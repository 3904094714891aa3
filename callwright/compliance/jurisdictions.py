"""Where recording a call needs every party's consent, by phone number.

A maintained list, not legal advice: US states whose wiretap laws require all parties to agree
to a recording, and countries where operators commonly ask every party. Review it with counsel
for your traffic and extend it with `DisclosureOptions.all_party_consent`. Sources and the
reasoning per entry are in docs/compliance.md.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import geocoder

# US states (ISO 3166-2 codes) with all-party consent statutes for recording calls.
ALL_PARTY_US_STATES: frozenset[str] = frozenset(
    ("US-CA", "US-FL", "US-IL", "US-MD", "US-MA", "US-MT", "US-NH", "US-PA", "US-WA")
)
# Countries (ISO 3166-1) where the call's other party is asked before a recording.
ALL_PARTY_COUNTRIES: frozenset[str] = frozenset(("DE", "AT", "CH"))
ALL_PARTY_CONSENT: frozenset[str] = ALL_PARTY_US_STATES | ALL_PARTY_COUNTRIES

_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington State": "WA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC",
}  # fmt: skip
_STATE_CODES = frozenset(_US_STATES.values())


def jurisdiction_of(number: str | None) -> str | None:
    """The jurisdiction a number belongs to: "US-CA" for a US number, else its country ("DE").

    US numbers are placed by area code (phonenumbers' geocoder); a number that is not E.164,
    or a US number with no geographic area (toll-free), gives only what is known ("US") or None.
    """
    if not number or not number.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(parsed)
    if country != "US":
        return country
    place = geocoder.description_for_number(parsed, "en")
    state = _US_STATES.get(place)
    if state is None and ", " in place:
        tail = place.rsplit(", ", 1)[1]
        state = tail if tail in _STATE_CODES else None
    return f"US-{state}" if state else "US"


def all_party_jurisdiction(
    numbers: tuple[str | None, ...], listed: frozenset[str] = ALL_PARTY_CONSENT
) -> str | None:
    """The first of the call's parties' jurisdictions that needs everyone's consent, if any."""
    for number in numbers:
        place = jurisdiction_of(number)
        if place is not None and place in listed:
            return place
    return None

"""What a handoff uses of its call, and how a call reaches a person (`HandoffOptions`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from callwright.core.clock import AudioClock
from callwright.core.responder import CallInfo
from callwright.observe.record_writer import CallRecordWriter
from callwright.store.base import Utterance
from callwright.transports.base import CallTransport


class CallState(Protocol):
    """What a handoff uses of the call's shared state (the session's `agent.CallState`).

    A protocol, so the handoff does not import the session package that imports it.
    """

    call: CallInfo
    transport: CallTransport
    clock: AudioClock
    recorder: CallRecordWriter
    outcome: tuple[str, str] | None
    transcript: list[Utterance]
    tool_calls: list[dict[str, Any]]
    language: str

    def record_failure(self, error: BaseException, stage: str) -> None:
        """Logs a failure of the call's own work and records it (an `error` event)."""
        ...


@dataclass(frozen=True, slots=True)
class HandoffOptions:
    """How a call reaches a person, and what the caller hears meanwhile.

    Attributes:
        route: "auto" (console if someone is signed in, else a phone transfer if the call
            can be transferred, else a callback offer), "console" or "phone".
        update_interval_s: how often a waiting caller hears their place in line.
        wait_limit_s: time in the queue before the caller is offered a callback.
        nobody_left_s: how long the console may stay with nobody signed in (everyone has
            left) before a waiting caller is offered the callback, again if they declined
            it before (a person reloading the console page is back well within it).
        hold_audio: play hold audio between announcements (else silence).
    """

    route: Literal["auto", "console", "phone"] = "auto"
    update_interval_s: float = 30.0
    wait_limit_s: float = 120.0
    nobody_left_s: float = 15.0
    hold_audio: bool = True
    connecting_line: str = (
        "I'll connect you with a member of our team. I've passed on what we talked about, "
        "so you won't have to repeat yourself."
    )
    nobody_line: str = (
        "Nobody from our team is free right now. Would you like us to call you back at the "
        "number you're calling from? Please say yes or no."
    )
    wait_limit_line: str = (
        "Sorry for the wait, everyone is still busy. Would you like us to call you back "
        "instead? Please say yes or no."
    )
    callback_yes_line: str = (
        "Done. Someone from our team will call you back as soon as possible. Goodbye!"
    )
    keep_waiting_line: str = "Okay, I'll keep you in line."
    callback_no_line: str = "Okay. Please call back any time. Goodbye!"
    yes_or_no_line: str = "Would you like a callback? Please say yes or no."
    back_line: str = (
        "You're back with the automated assistant. Is there anything else I can help you with?"
    )
    # The place in line: templates, filled with {position} and {minutes} (a number, and the
    # word of `minute_words` that goes with it).
    position_line: str = "You're number {position} in line. Someone will be with you in a moment."
    position_wait_line: str = (
        "You're number {position} in line. The expected wait is about {minutes}."
    )
    minute_words: tuple[str, str] = ("minute", "minutes")

    def __post_init__(self) -> None:
        for template in (self.position_line, self.position_wait_line):
            try:
                template.format(position=1, minutes="1 minute")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{template!r}: only {{position}} and {{minutes}}") from exc


def position_line(position: int, wait_s: float | None, options: HandoffOptions) -> str:
    """What a waiting caller hears about their place in line, in `options`' words."""
    if not wait_s:
        return options.position_line.format(position=position, minutes="")
    count = max(1, math.ceil(wait_s / 60))
    one, many = options.minute_words
    minutes = f"{count} {one if count == 1 else many}"
    return options.position_wait_line.format(position=position, minutes=minutes)

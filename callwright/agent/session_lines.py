"""The lines the call session speaks itself, in one language.

The responder speaks for the agent (greeting, answers, its fixed lines); the session speaks
for the call: the recording and automation disclosure and the consent exchange, "are you
still there?" and the goodbye to a silent caller, the line for words it could not transcribe,
fillers while a reply is slow, the time limit's and the server's goodbye, the opt-out
confirmation, and what a caller waiting for a person hears (`HandoffOptions`' lines, the place
in the queue among them). An agent gives them per language
(`Agent.session_lines`, `Language.session_lines`); the session says the set of the call's
language at the moment it speaks, so a call that switched to Spanish hears Spanish ones. A
language without its own set uses the main language's, which are the stack's options
(`DisclosureOptions`, `SilenceOptions`, `FillerOptions`, `CallLimits`, `OptOutOptions`,
`HandoffOptions`): English unless configured otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from callwright.agent.limits import CallLimits
from callwright.agent.silence import FillerOptions, SilenceOptions
from callwright.compliance.disclosure import DisclosureOptions
from callwright.compliance.optout import OptOutOptions
from callwright.handoff.options import HandoffOptions

_DISCLOSURE = DisclosureOptions()
_SILENCE = SilenceOptions()
_FILLER = FillerOptions()
_LIMITS = CallLimits()
_HANDOFF = HandoffOptions()
UNHEARD_LINE = "Sorry, I didn't catch that. Could you say it again?"


@dataclass(frozen=True, slots=True)
class SessionLines:
    """Every line the session speaks (English by default).

    Attributes:
        disclosure: opens phone calls: an automated assistant, and the call is recorded.
        consent_question: asks for recording consent (after the disclosure, where needed).
        consent_granted: the caller said yes.
        consent_declined: the caller said no: the call goes on unrecorded.
        consent_reask: the answer was unclear.
        still_there: to a caller who has been silent (`SilenceOptions.reprompt_after_ms`).
        silent_goodbye: before hanging up on a caller who stayed silent.
        unheard: the caller spoke but no recogniser could transcribe it.
        fillers: said while a reply is slow, in order (the last one repeats).
        time_limit: the call reached its maximum length.
        shutdown: the server must end the call (drain deadline).
        opt_out: the caller asked not to be called again.
        handoff_connecting, handoff_nobody, handoff_wait_limit, handoff_callback_yes,
            handoff_keep_waiting, handoff_callback_no, handoff_yes_or_no, handoff_back: the
            handoff's lines (`HandoffOptions`: connecting_line, nobody_line...).
        handoff_position, handoff_position_wait, handoff_minute_words: the place in line,
            templates with {position} and {minutes} (`HandoffOptions.position_line`...).
    """

    disclosure: str = _DISCLOSURE.text
    consent_question: str = _DISCLOSURE.question
    consent_granted: str = _DISCLOSURE.granted
    consent_declined: str = _DISCLOSURE.declined
    consent_reask: str = _DISCLOSURE.reask
    still_there: str = _SILENCE.reprompt
    silent_goodbye: str = _SILENCE.goodbye
    unheard: str = UNHEARD_LINE
    fillers: tuple[str, ...] = _FILLER.phrases
    time_limit: str = _LIMITS.max_duration_line
    shutdown: str = _LIMITS.shutdown_line
    opt_out: str = OptOutOptions().confirmation
    handoff_connecting: str = _HANDOFF.connecting_line
    handoff_nobody: str = _HANDOFF.nobody_line
    handoff_wait_limit: str = _HANDOFF.wait_limit_line
    handoff_callback_yes: str = _HANDOFF.callback_yes_line
    handoff_keep_waiting: str = _HANDOFF.keep_waiting_line
    handoff_callback_no: str = _HANDOFF.callback_no_line
    handoff_yes_or_no: str = _HANDOFF.yes_or_no_line
    handoff_back: str = _HANDOFF.back_line
    handoff_position: str = _HANDOFF.position_line
    handoff_position_wait: str = _HANDOFF.position_wait_line
    handoff_minute_words: tuple[str, str] = _HANDOFF.minute_words

    def __post_init__(self) -> None:
        if not self.fillers:
            raise ValueError("fillers must not be empty")
        self.handoff_options(_HANDOFF)  # the place-in-line templates are checked there

    @classmethod
    def of(
        cls,
        disclosure: DisclosureOptions,
        silence: SilenceOptions,
        filler: FillerOptions,
        limits: CallLimits,
        opt_out: OptOutOptions,
        handoff: HandoffOptions,
    ) -> SessionLines:
        """The lines the stack's options hold (the main language's, unless an agent gives
        its own)."""
        return cls(
            disclosure=disclosure.text,
            consent_question=disclosure.question,
            consent_granted=disclosure.granted,
            consent_declined=disclosure.declined,
            consent_reask=disclosure.reask,
            still_there=silence.reprompt,
            silent_goodbye=silence.goodbye,
            fillers=tuple(filler.phrases),
            time_limit=limits.max_duration_line,
            shutdown=limits.shutdown_line,
            opt_out=opt_out.confirmation,
            handoff_connecting=handoff.connecting_line,
            handoff_nobody=handoff.nobody_line,
            handoff_wait_limit=handoff.wait_limit_line,
            handoff_callback_yes=handoff.callback_yes_line,
            handoff_keep_waiting=handoff.keep_waiting_line,
            handoff_callback_no=handoff.callback_no_line,
            handoff_yes_or_no=handoff.yes_or_no_line,
            handoff_back=handoff.back_line,
            handoff_position=handoff.position_line,
            handoff_position_wait=handoff.position_wait_line,
            handoff_minute_words=handoff.minute_words,
        )

    def handoff_options(self, options: HandoffOptions) -> HandoffOptions:
        """`options` (routing, timing) with these lines."""
        return replace(
            options,
            connecting_line=self.handoff_connecting,
            nobody_line=self.handoff_nobody,
            wait_limit_line=self.handoff_wait_limit,
            callback_yes_line=self.handoff_callback_yes,
            keep_waiting_line=self.handoff_keep_waiting,
            callback_no_line=self.handoff_callback_no,
            yes_or_no_line=self.handoff_yes_or_no,
            back_line=self.handoff_back,
            position_line=self.handoff_position,
            position_wait_line=self.handoff_position_wait,
            minute_words=self.handoff_minute_words,
        )

    def all(self) -> list[str]:
        """Every line, for the phrase cache (said word for word)."""
        return [
            self.disclosure,
            f"{self.disclosure} {self.consent_question}",
            self.consent_granted,
            self.consent_declined,
            self.consent_reask,
            self.still_there,
            self.silent_goodbye,
            self.unheard,
            *self.fillers,
            self.time_limit,
            self.shutdown,
            self.opt_out,
            self.handoff_connecting,
            self.handoff_nobody,
            self.handoff_wait_limit,
            self.handoff_callback_yes,
            self.handoff_keep_waiting,
            self.handoff_callback_no,
            self.handoff_yes_or_no,
            self.handoff_back,
        ]

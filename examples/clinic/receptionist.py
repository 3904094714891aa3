"""The clinic receptionist without an LLM: the flow of `flow.py`, run deterministically.

Every turn goes through the same gates in the same order: guardrails (emergency, abuse, out of
scope; emergencies also by meaning, `kb.urgency`), global intents (a human, repeat, go
back, never mind, goodbye), then the current node. Facts come only from tools (availability,
appointments) and the knowledge base; the lines in `LINES` state none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from callwright.core.responder import (
    CallInfo,
    EndCall,
    ExpectedAnswer,
    ResponseEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    TransferCall,
    TurnContext,
)
from callwright.flows import spanish
from callwright.flows.engine import (
    Ambiguous,
    FlowState,
    SlotContext,
    SlotSpec,
    extract,
    fill,
    reprompt,
)
from callwright.flows.expected import from_flow
from callwright.flows.globals import match_global, question_after_goodbye
from callwright.flows.guardrails import Guardrails
from callwright.flows.intents import words
from callwright.flows.names import Directory, Person, names_with_a_title, says_a_name
from callwright.flows.phonetic import respell
from callwright.flows.requests import Recogniser
from callwright.flows.slots import (
    HOUR_TO_FOLLOW,
    TimeSpec,
    extract_date,
    extract_time,
    extract_yes_no,
)
from callwright.kb.urgency import EmergencyMeaning
from callwright.tools.registry import ToolRegistry
from examples.clinic.flow import DOMAIN_TERMS
from examples.clinic.handoff_facts import clinic_facts
from examples.clinic.scheduling import Offer, Scheduling
from examples.clinic.scope import GUARDRAILS_ES
from examples.clinic.tasks import BY_WORDS, TaskRequests, task_intent
from examples.clinic.tools import ClinicContext, clinic_tools
from examples.clinic.wording import ENGLISH, Wording, wording_for


class Receptionist(Scheduling, TaskRequests):
    """Serves one call. Created by `ClinicResponderFactory.for_call`."""

    def __init__(
        self,
        call: CallInfo,
        ctx: ClinicContext,
        guardrails: Guardrails,
        urgency: EmergencyMeaning | None = None,
        greeting: str | None = None,
        tasks: Recogniser = BY_WORDS,
    ) -> None:
        self.call = call
        self._greeting = greeting
        self._cut_off = False  # the caller spoke over the last reply and did not hear it all
        self._urgency = urgency
        self._tasks = tasks
        self.ctx = ctx
        self.tools: ToolRegistry = clinic_tools(ctx)
        self.w: Wording = ENGLISH
        self.state = FlowState(self.w.flow.start)
        self.flow = self.w.flow
        self._guardrails = guardrails
        self._guardrails_es = Guardrails(GUARDRAILS_ES)
        self._queue: asyncio.Queue[ResponseEvent | _Emit | None] = asyncio.Queue()
        self._said: list[str] = []
        self._abuse = 0
        self._done: list[str] = []  # what the call achieved, for the end-of-call summary
        self._slot_ctx = SlotContext(
            today=ctx.today,
            directories={"doctors": ctx.doctor_directory, "patients": ctx.patient_directory},
        )
        self._knowledge = {"en": ctx.kb, **ctx.kb_by_language}

    def _follow_language(self, language: str) -> None:
        """Speaks, listens and answers questions in the call's language from this turn on."""
        wording = wording_for(language)
        if wording is self.w:
            return
        self.w = wording
        self.flow = wording.flow
        self._slot_ctx = dataclasses.replace(self._slot_ctx, language=wording.language)
        self.ctx.kb = self._knowledge.get(wording.language, self._knowledge["en"])

    # --- plumbing ----------------------------------------------------------------------

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        """Streams the reply to the latest turn of `context.history`."""
        self._queue = asyncio.Queue()
        self._said = []
        self._follow_language(context.language)
        task = asyncio.create_task(self._handle(context))
        task.add_done_callback(lambda _t: self._queue.put_nowait(None))
        try:
            while (event := await self._queue.get()) is not None:
                if isinstance(event, _Emit):
                    await self.ctx.emit(event.kind, event.data)
                else:
                    yield event
            task.result()
        finally:
            if not task.done():
                task.cancel()
            if self._said:
                self.state.last_said = " ".join(self._said)

    def say(self, text: str) -> None:
        """Queues a line to be spoken."""
        self._said.append(text)
        self._queue.put_nowait(TextDelta(text + " "))

    def end(self, reason: str, transfer: bool = False) -> None:
        """Ends the call once the reply has been spoken (handing it to a person if `transfer`)."""
        summary = {"call_id": self.call.call_id, "reason": reason, "done": self._done}
        if self.ctx.patient is not None:
            summary["patient_id"] = self.ctx.patient.id
        self._queue.put_nowait(_Emit("call_ended", summary))
        self._queue.put_nowait(TransferCall(reason) if transfer else EndCall(reason))

    def handoff_facts(self) -> dict[str, Any]:
        """For the person who takes the call over (see `callwright.handoff.HandoffFacts`)."""
        return clinic_facts(self.ctx, self.state, list(self._done))

    def expected_answer(self) -> ExpectedAnswer | None:
        """What the open question asks for, so a whole answer is taken without waiting."""
        state = self.state
        if state.node == "verify":  # the name is kept as said ("name_text") until verified
            kinds = [
                k for k, key in (("person", "name_text"), ("dob", "dob")) if key not in state.slots
            ]
            return ExpectedAnswer(tuple(kinds)) if kinds else None
        return from_flow(self.flow, state)

    def record(self, name: str, result: dict[str, Any]) -> None:
        """Records a flow decision (a flag, a follow-up) as a tool result on the call."""
        call = ToolCall(f"flow_{uuid.uuid4().hex[:8]}", name, {})
        self._queue.put_nowait(ToolResult(call=call, result=result))

    async def tool(self, tool_name: str, **arguments: Any) -> ToolResult:
        """Runs a tool the current node allows; speaks a filler if it is slow."""
        call = ToolCall(f"flow_{uuid.uuid4().hex[:8]}", tool_name, arguments)
        if not self.flow.allows(self.state.node, tool_name):
            error = f"{tool_name} not allowed in {self.state.node}"
            result = ToolResult(call, None, error=error)
        else:
            key = ToolRegistry.idempotency_key(call, scope=self.call.call_id)
            result = ToolResult(call, None, error="no result")
            async for event in self.tools.run_with_filler(call, self.w.lines["filler"], key):
                if isinstance(event, TextDelta):
                    self.say(event.text)
                else:
                    result = event
        self._queue.put_nowait(result)
        return result

    async def _handle(self, context: TurnContext) -> None:
        if context.trigger == "call_start":
            await self.ctx.emit("call_started", {"call_id": self.call.call_id})
            reminder = self.call.parameters.get("reminder") == "appointment"
            self.say(self._reminder_line() if reminder else self._greeting_line())
            if reminder:
                self.state.awaiting = "reminder"
            self.ctx.look_up_caller(self.call.caller)
            return
        if context.trigger == "silence":
            return
        last = next((m for m in reversed(context.history) if m.role == "user"), None)
        spoken = next((m for m in reversed(context.history) if m.role == "assistant"), None)
        self._cut_off = spoken is not None and spoken.interrupted
        await self.turn(last.content if last else "")

    def _greeting_line(self) -> str:
        """The clinic's own greeting (`ClinicOptions.greeting`, English) or the wording's."""
        if self._greeting and self.w is ENGLISH:
            return self._greeting
        return self.w.lines["greeting"]

    def _reminder_line(self) -> str:
        """The opening of a reminder call (the campaign's parameters)."""
        p = self.call.parameters
        return self.w.lines["reminder"].format(
            name=p.get("first_name", "there"),
            doctor=p.get("doctor", "your doctor"),
            time=p.get("appointment_time", ""),
        )

    # --- one caller turn ---------------------------------------------------------------

    async def turn(self, text: str) -> None:
        """Decides and says what comes next after the caller said `text`."""
        guardrails = self._guardrails_es if self.w.language == "es" else self._guardrails
        verdict = guardrails.check(text)
        if verdict == "emergency":
            self.say(self.w.lines["emergency"])
            self._flag("emergency", text)
            self.end("emergency")
            return
        if verdict is None and self._urgency is not None and await self._urgency.check(text):
            # Described in the caller's own words: the advice at once, and the call goes on
            # (a routine caller misread costs a sentence, not the call).
            self.say(self.w.lines["emergency_maybe"])
            self._flag("possible_emergency", text)
        if verdict == "abuse":
            self._abuse += 1
            if self._abuse > 1:
                self.say(self.w.lines["abuse_end"])
                self.record("flag_call", {"flag": "abuse"})
                self.end("abusive_caller")
            else:
                self.say(self.w.lines["abuse_warning"])
            return
        if verdict == "out_of_scope":
            self.say(self.w.lines["out_of_scope"])
            return
        asked = question_after_goodbye(text, self.w.language)
        if asked is not None:
            text = asked  # "Bye, where are you?": the caller waits for this answer
        intent = match_global(text, self.w.language)
        if intent == "human":
            await self.tool("transfer_to_front_desk", reason="caller asked for a person")
            self.say(self.w.lines["transfer"])
            self.end("transfer_requested", transfer=True)
            return
        if intent == "goodbye":
            self.say(self.w.lines["goodbye"])
            self.end("caller said goodbye")
            return
        if intent == "repeat":
            self.say(self.state.last_said or self._greeting_line())
            return
        if intent == "abort":
            self._reset()
            self.say(self.w.lines["start_over"])
            return
        if intent == "back":
            if self.state.back():
                await self.advance()
            else:
                self.say(self.w.lines["nothing_to_go_back"])
            return
        if self.state.node == "menu":
            await self.menu(text)
        elif self.state.node == "verify":
            await self.verify(text)
        else:
            await self.task_turn(text)

    def _flag(self, flag: str, text: str) -> None:
        self.record("flag_call", {"flag": flag, "text": text})
        self._queue.put_nowait(_Emit("call_flagged", {"call_id": self.call.call_id, "flag": flag}))

    def _reset(self) -> None:
        verified = self.state.verified
        self.state = FlowState(self.flow.start, verified=verified)

    # --- menu and knowledge ------------------------------------------------------------

    async def menu(self, text: str) -> None:
        awaiting = self.state.awaiting
        self.state.awaiting = None
        verdict = await self._judge(text)
        if awaiting == "task_choice" and await self._task_chosen(text, verdict):
            return
        # "Yes, I'll be there" answers the reminder; only a task's own word asks for one.
        if awaiting == "reminder" and self._task_intent(text) is None:
            if self._yes_no(text) is True:  # "yes, I'll be there": confirmed
                self.record("confirm_appointment", dict(self.call.parameters))
                self.say(self.w.lines["reminder_confirmed"])
                self.end("completed")
                return
        if awaiting == "kb_clarify" and await self._clarified(text):
            return
        answer = self._yes_no(text)
        intent = verdict.intent
        if awaiting == "offer_book" and answer is True and intent is None:
            intent = "book"
        # "No, thanks" to "anything else?" is a no, not thanks to be answered.
        done = intent in (None, "thanks")
        if awaiting in ("anything_else", "offer_book") and answer is False and done:
            self.say(self.w.lines["goodbye"])
            self.end("completed")
            return
        if intent == "thanks":
            self.say(self.w.lines["thanks"])
            self.state.awaiting = "anything_else"
            return
        short = len(words(text)) <= 3
        if awaiting == "anything_else" and answer is True and intent is None and short:
            # A bare "yes" to "anything else?": there is something, not said yet.
            self.say(self.w.lines["what_else"])
            self.state.awaiting = "anything_else"
            return
        implied = self._implied_task(text, verdict)
        if implied is not None and self._slots_decide(verdict, implied, text):
            intent = implied
        if intent is not None:
            await self._start_task(intent, text)
            return
        if verdict.choices:
            self._ask_which_task(verdict.choices, text)
            return
        result = await self.tool("search_knowledge", question=text)
        found = (result.result or {}).get("answer") if result.error is None else None
        if found and not (implied is not None and implied == verdict.leaning):
            self.say(found)
            self.state.awaiting = "answered"
            return
        if implied is not None:
            # Not a question the knowledge base answers, or a request with the slots of the
            # task it leans to ("any openings on Friday?"): the task that takes them ("Is
            # Doctor Nguyen free Wednesday morning?").
            await self._start_task(implied, text)
            return
        if await self._answer_respelled(text):
            return
        topics = (result.result or {}).get("clarify") if result.error is None else None
        if topics:
            self.state.pending = {"kb_keys": result.result["keys"], "question": text}
            self.state.awaiting = "kb_clarify"
            self.say(self.w.says("clarify", topics=self.w.join_or([t.lower() for t in topics])))
            return
        if awaiting == "answered" and self._cut_off and len(text.split()) <= 3:
            # Said over the answer and not understood: the end of the caller's own question
            # after a pause ("...during the" [a pause] "week?" heard as "Sweet."), not thanks
            # for an answer they did not hear. The answer again, whole.
            self.say(self.state.last_said)
            self.state.awaiting = "answered"
            return
        if awaiting == "answered" and len(text.split()) <= 3 and "?" not in text:
            # A few words after an answer, not a question and not understood, are the caller
            # taking it in ("Great, thanks" heard as "Great, hence."), not a new question.
            self.say(self.w.lines["thanks"])
            self.state.awaiting = "anything_else"
            return
        self.record("follow_up", {"question": text})
        await self.ctx.emit("follow_up_requested", {"call_id": self.call.call_id, "question": text})
        self.say(self.w.lines["not_sure"])

    async def _answer_respelled(self, text: str) -> bool:
        """Asks again with misheard terms respelled ("that now" → Aetna), saying which.

        The terms are the doctors, the clinic's words and the knowledge base's topic names
        ("opening errors" → opening hours).
        """
        topics = [t.lower() for t in self.ctx.kb.topic_names()]
        vocabulary = [*(d.spoken for d in self.ctx.doctors), *DOMAIN_TERMS, *topics]
        respelled, terms = respell(text, vocabulary)
        if not terms:
            return False
        result = await self.tool("search_knowledge", question=respelled)
        found = (result.result or {}).get("answer") if result.error is None else None
        if not found:
            return False
        self.say(self.w.says("if_you_mean", terms=self.w.join_and(terms), answer=found))
        return True

    async def _clarified(self, text: str) -> bool:
        """Answers the caller's pick after "are you asking about A or B?"; False if no pick."""
        keys: list[str] = self.state.pending.get("kb_keys", [])
        choices = [p for p in self.ctx.kb.passages if p.key in keys]
        index = self._choice(text, len(choices))
        picked = choices[index] if index is not None else await self.ctx.kb.pick(text, choices)
        self.state.pending = {}
        if picked is None:
            return False
        self.say(picked.text)
        return True

    # --- identity ----------------------------------------------------------------------

    def _keep_identity(self, text: str) -> None:
        """Keeps a name and date of birth said with the request, for the identity check."""
        match = extract(self.flow.node("verify").slots[0], text, self._slot_ctx)
        dob = extract(self.w.flow.node("verify").slots[1], text, self._slot_ctx)
        born = re.search(r"\b(born|birth|nac[ií]\w*)\b", text, re.I) is not None
        # A loose match counts beside a date of birth; alone in a request ("a sore throat
        # since Monday") it is noise.
        named = isinstance(match, Person) or (match is not None and dob is not None and born)
        if named:
            self.state.slots["name_text"] = text
        # A full date with the request is a date of birth only beside a name or "born": in
        # "Monday, December 14, 2010" Whisper wrote "at ten" as a year.
        if dob is not None and (named or born):
            self.state.slots["dob"] = dob
        elif born and self._any_date(text):
            # "born May 5th." [a pause] "1978, ...": the year comes in the next turn.
            self.state.pending["dob_part"] = text

    async def verify(self, text: str) -> None:
        state = self.state
        name = extract(self.flow.node("verify").slots[0], text, self._slot_ctx)
        dob_spec = self.flow.node("verify").slots[1]
        dob = extract(dob_spec, text, self._slot_ctx)
        part = state.pending.pop("dob_part", "")
        birth_date = False  # a month and day that are part of the date of birth
        if dob is None and part:
            # "July 4th." [a pause] "1990.": the date of birth said over two turns.
            dob = extract(dob_spec, f"{part} {text}", self._slot_ctx)
            if dob is None and not text:
                state.pending["dob_part"] = part  # asked for the rest: nothing said yet
        if dob is None and self._any_date(text) and not self._any_hour(text):
            # A month and day without the year yet (with an hour it is the day to book:
            # "...on Thursday." [a pause] "December 10th at 10 in the morning.").
            state.pending["dob_part"] = text
            birth_date = True
        if name is None and "name_text" not in state.slots and self._unlisted_name(text, bool(dob)):
            # A name on no record is still a name (the check will say so), unless one was
            # given: "1990, actually." ends a date of birth, it does not rename the caller.
            name = text
        if isinstance(name, Ambiguous) and state.awaiting == "dob" and "name_text" in state.slots:
            name = None  # a loose match in the date of birth asked for ("June second...")
        if name is not None:
            state.slots["name_text"] = text
        if dob is not None:
            state.slots["dob"] = dob
        # What the caller adds for the task meanwhile ("...and I'd like Tuesday") is kept; a
        # date in the answer is the date of birth, not the day wanted.
        specs = self._task_slots()
        if birth_date:
            specs = tuple(s for s in specs if s.kind != "date")
        lost = (state.awaiting == "dob" and dob is None and not birth_date) or (
            state.awaiting == "name" and name is None
        )
        if lost:
            # The answer asked for was not understood: its words are that answer misheard
            # ("Do I for 99 feet?" for a birthday), not the visit's reason in free text.
            specs = tuple(s for s in specs if s.kind != "reason")
        added, ambiguous = fill(state, specs, text, self._slot_ctx)
        if ambiguous is not None:
            state.pending["unsure"] = ambiguous
        if (
            state.awaiting == "dob"
            and "dob" not in state.slots
            and not birth_date
            and "dob_part" not in state.pending
            and name is not None
        ):
            # The name again, and the date of birth asked for not understood ("...and my date
            # of birth is due life worth, 1990."): a failed answer too, or the same question
            # would come back unchanged, never narrower, never the keypad.
            self.say(self._reprompt(dob_spec, state.fail(dob_spec.name)))
            return
        if name is None and dob is None and state.awaiting in ("name", "dob"):
            # Not understood: ask narrower, then offer the keypad or a person.
            spec = dob_spec if state.awaiting == "dob" else self.flow.node("verify").slots[0]
            self.say(self._reprompt(spec, state.fail(spec.name)))
            return
        if "name_text" not in state.slots and "dob" not in state.slots:
            state.awaiting = "name"
            if added and name is None and dob is None and not birth_date:
                # The rest of the request, not an answer ("...with Doctor Nguyen." [a pause]
                # "on Thursday at ten."): kept, and the question asked again, not a failure.
                self.say(self.w.lines["verify_after_request"])
                return
            self.say(self._reprompt(self.flow.node("verify").slots[0], state.fail("name")))
            return
        if "dob" not in state.slots:
            state.awaiting = "dob"
            self.say(self.w.lines["ask_dob"])
            return
        if "name_text" not in state.slots:
            state.awaiting = "name"
            self.say(self.w.lines["ask_name"])
            return
        state.awaiting = None
        result = await self.tool(
            "verify_identity",
            name=state.slots.pop("name_text"),
            dob=state.slots.pop("dob").isoformat(),
        )
        if result.error is None and (result.result or {}).get("verified"):
            state.verified = result.result["patient_id"]
            self.say(self.w.says("thank_you_name", name=result.result["first_name"]))
            state.node = state.resume or "menu"
            state.resume = None
            unsure = state.pending.pop("unsure", None)
            if isinstance(unsure, Ambiguous) and unsure.slot not in state.slots:
                self._ask_which(unsure)
                return
            await self.advance()
            return
        if not await self._verify_failed():
            self.say(self.w.lines["verify_again"])

    def _unlisted_name(self, text: str, with_dob: bool) -> bool:
        """Whether `text` gives a name that is on no record (a doctor's is not the caller's),
        when a name was asked for or comes with the date of birth."""
        if self.state.awaiting == "dob" and not with_dob:
            return False
        return says_a_name(text) and self.ctx.doctor_directory.match(text).best is None

    async def _verify_failed(self) -> bool:
        """Counts a failure; after the second, gives up on the task. True when it gave up."""
        if self.state.fail("verify") < 2:
            return False
        self.state = FlowState("menu")
        self.say(self.w.lines["verify_failed"])
        return True

    # --- tasks -------------------------------------------------------------------------

    async def advance(self) -> None:
        """Says what the current node needs next, or acts when it has everything."""
        state = self.state
        node = self.flow.node(state.node)
        if node.requires_identity and state.verified is None:
            state.resume = node.name
            state.node = "verify"
            state.awaiting = None
            if "name_text" in state.slots or "dob" in state.slots:
                await self.verify("")  # said with the request: ask only for what is missing
            else:
                self.say(self.w.lines["verify"])
            return
        unsure = state.pending.pop("unsure", None)
        if isinstance(unsure, Ambiguous) and unsure.slot not in state.slots:
            self._ask_which(unsure)
            return
        if node.name == "menu":
            self.say(self.w.lines["anything_else"])
            state.awaiting = "anything_else"
        elif node.name == "book":
            await self._when(confirm=self._confirm_booking)
        elif node.name == "lookup":
            await self._lookup()
        elif node.name in ("reschedule", "cancel"):
            if await self._choose_appointment():
                if node.name == "cancel":
                    self._confirm_cancel()
                else:
                    await self._when(confirm=self._confirm_reschedule)

    async def task_turn(self, text: str) -> None:
        """A caller turn inside a task: answers, corrections, choices and confirmations."""
        state = self.state
        node = self.flow.node(state.node)
        awaiting = state.awaiting
        if awaiting == "appointment":
            picked = self._pick_appointment(text)
            if picked is None:
                self.say(state.pending.get("question", ""))
                return
            state.slots["appointment"] = picked
            state.slots["doctor"] = self._doctor_person(picked.doctor_id)
            state.awaiting = None
            await self.advance()
            return
        if awaiting == "doctor_choice":
            candidates = list(state.pending["candidates"])
            chosen = Directory(candidates).match(text).best
            index = self._choice(text, len(candidates))
            answer = self._yes_no(text)
            if chosen is None and index is not None:
                chosen = candidates[index]
            if chosen is None and len(candidates) == 1 and answer is True:
                chosen = candidates[0]
            if chosen is not None:
                state.slots["doctor"] = chosen
            state.awaiting = None
            state.pending = {}
            if chosen is None:
                # "No" or another name: take any other slot said and ask again.
                fill(state, self._task_slots(), text, self._slot_ctx)
            await self.advance()
            return
        switch = self._switch_to(text)
        if switch is not None:
            verified = state.verified
            self.state = FlowState(switch, verified=verified)
            self._fill(text)
            await self.advance()
            return
        offers: list[Offer] = state.pending.get("offers", [])
        index = self._choice(text, len(offers)) if awaiting == "choice" else None
        if index is not None:
            state.slots["date"], time = offers[index]
            state.slots["time"] = TimeSpec(time=time)
            await self.advance()
            return
        changed, ambiguous = self._fill(text)
        changed = [c for c in changed if node.slot(c) is not None]
        if ambiguous is not None and node.slot(ambiguous.slot) is not None:
            self._ask_which(ambiguous)
            return
        if "date" in changed and "time" not in changed and awaiting == "choice":
            state.slots.pop("time", None)  # a new day: the offered times were for the old one
        offered_days = {day for day, _ in offers}
        if (
            awaiting == "choice"
            and "time" in changed
            and "date" not in changed
            and len(offered_days) == 1
        ):
            # Another time on the day offered ("the next opening is Tuesday... " "half past
            # two, please"): that day, not the one first asked for.
            state.slots["date"] = offered_days.pop()
        if changed:
            await self.advance()
            return
        answer = self._yes_no(text)
        if awaiting == "choice" and answer is True and offers:
            if len(offers) > 1 and state.fail("choice") < 2:
                # "Yes" to "nine or half past nine?": ask once more, shorter, not verbatim.
                self.say(self.w.says("which_one", offers=self._offer_text(offers, short=True)))
                return
            # One option, or a second bare yes: the first one offered, read back to confirm.
            state.slots["date"], time = offers[0]
            state.slots["time"] = TimeSpec(time=time)
            await self.advance()
        elif awaiting == "confirm" and answer is True:
            await self._act()
        elif awaiting == "confirm" and answer is False:
            if state.node == "cancel":
                self._back_to_menu(self.w.lines["kept"])
                return
            if node.slot("doctor") is not None and names_with_a_title(text):
                # "No, make it Doctor <not understood> instead": the doctor is what changes,
                # so ask for the doctor, not which of doctor, day and time.
                state.slots.pop("doctor", None)
                state.awaiting = None
                await self.advance()
                return
            self.say(self.w.lines["what_change"])
            state.awaiting = "change"
        elif not await self._answer_question(text):
            self.say(self._repair(text))

    def _switch_to(self, text: str) -> str | None:
        """Another task the caller now asks for ("actually, cancel it instead"), if any."""
        if self.state.awaiting == "confirm":
            return None
        intent = self._task_intent(text)
        if intent in (None, "thanks", self.state.node):
            return None
        if intent == "book" and self.w.language == "en" and "book" not in text.lower():
            return None  # "appointment" alone is not a new booking
        return intent

    async def _answer_question(self, text: str) -> bool:
        """A knowledge question in the middle of a task: answer it, then ask ours again."""
        asks = self.w.is_question(text)
        if not (_is_question(text) if asks is None else asks):
            return False
        result = await self.tool("search_knowledge", question=text)
        answer = (result.result or {}).get("answer") if result.error is None else None
        if not answer:
            return False
        self.say(answer)
        self.say(self._question())
        return True

    def _repair(self, text: str = "") -> str:
        """A narrower question for the slot whose answer was not understood."""
        state = self.state
        lost = self._hour_lost(text)
        if lost is not None:
            return lost
        spec = None
        if state.awaiting not in ("choice", "confirm", "change"):
            spec = self.flow.node(state.node).slot(state.awaiting or "") or state.missing(
                self.flow.node(state.node)
            )
        if spec is None:
            return self._question()
        narrower = ""
        if spec.name == "doctor":
            names = self.w.join_or([d.spoken for d in self.ctx.doctors])
            narrower = self.w.says("which_doctor_narrow", names=names)
        return self._reprompt(spec, state.fail(spec.name), narrower)

    def _hour_lost(self, text: str) -> str | None:
        """Asks for the time itself when the caller, offered times, answers with a time whose
        hour was lost: only the part of the day the times are already in ("in the afternoon,
        please" to "noon or half past twelve"), or "half past" with no hour after it.

        The caller has turned the times down, and its hour did not come through (on a poor
        line "two in the afternoon" came back as "Good afternoon" every time, "half past
        two" as "half past you"): the same list again would get the same answer. Asked for
        the time, the caller says it in other words, and one more miss offers the keypad.
        """
        state = self.state
        offers: list[Offer] = state.pending.get("offers", [])
        spec = self.flow.node(state.node).slot("time")
        if state.awaiting != "choice" or not offers or spec is None:
            return None
        heard_text = spanish.canonical(text) if self.w.language == "es" else text
        heard = extract_time(heard_text)
        if heard is not None and heard.time is not None:
            return None
        kept = state.slots.get("time")
        period = kept.period if isinstance(kept, TimeSpec) and kept.time is None else None
        same_period = heard is not None and period is not None and heard.period == period
        no_hour = self.w.language == "en" and HOUR_TO_FOLLOW.search(heard_text) is not None
        if not (same_period or no_hour):
            return None
        given, _ = fill(FlowState(state.node), self._task_slots(), text, self._slot_ctx)
        if set(given) - {"time", "reason"}:
            return None  # the request said again, its day or doctor: not an answer to these
        state.awaiting = spec.name
        state.fail(spec.name)  # its hour is already lost once: one more miss, the keypad
        return self._time_question(spec, period if same_period else None)

    def _time_question(self, spec: SlotSpec, period: str | None) -> str:
        """The question for the time: within the part of the day already said, if any."""
        if period is not None and self.w.language == "en":
            return self.w.says("what_time_in", period=period)
        return spec.ask

    def _question(self) -> str:
        """The question the caller still has to answer."""
        state = self.state
        offers: list[Offer] = state.pending.get("offers", [])
        if state.awaiting == "choice" and offers:
            return self.w.says("which_would_you_like_list", offers=self._offer_text(offers))
        if state.awaiting == "confirm":
            return self.w.says("go_ahead")
        if state.awaiting == "change":
            return self.w.lines["what_change"]
        node = self.flow.node(state.node)
        asked = node.slot(state.awaiting or "")
        if asked is not None and asked.name not in state.slots:
            return asked.ask
        kept = state.slots.get("time")
        if asked is not None and asked.kind == "time" and isinstance(kept, TimeSpec):
            # Asked for the hour in a part of the day (`_hour_lost`), an optional slot.
            if kept.time is None and kept.period is not None and self.w.language == "en":
                return self._time_question(asked, kept.period)
            return asked.retry or asked.ask
        missing = state.missing(node)
        if missing is not None:
            return missing.ask
        return self.w.lines["anything_else"]

    def _fill(self, text: str) -> tuple[list[str], Ambiguous | None]:
        """Keeps every task slot the caller gave, whichever node the call is in."""
        return fill(self.state, self._task_slots(), text, self._slot_ctx)

    def _task_slots(self) -> tuple[SlotSpec, ...]:
        # The identity slots are read by `verify`, which checks them with a tool.
        return tuple(s for s in self.flow.all_slots() if s.name not in ("name", "dob"))

    def _ask_which(self, ambiguous: Ambiguous) -> None:
        names = [c.spoken for c in ambiguous.candidates]
        self.state.pending = {"candidates": ambiguous.candidates}
        self.state.awaiting = "doctor_choice"
        if len(names) == 1:
            self.say(self.w.says("is_that_right", name=names[0]))
        else:
            self.say(self.w.says("did_you_mean", names=self.w.join_or(names)))

    def _task_intent(self, text: str) -> str | None:
        if self.w.language == "en":
            return task_intent(text)
        return self.w.intent(text)

    def _yes_no(self, text: str) -> bool | None:
        return extract_yes_no(spanish.canonical(text) if self.w.language == "es" else text)

    def _any_hour(self, text: str) -> bool:
        """Whether `text` names a time of day with its hour ("at 10 in the morning")."""
        heard = spanish.canonical(text) if self.w.language == "es" else text
        spec = extract_time(heard)
        return spec is not None and spec.time is not None

    def _any_date(self, text: str) -> bool:
        """Whether `text` names a month and day (any year: part of a date of birth)."""
        heard = spanish.canonical(text) if self.w.language == "es" else text
        return extract_date(heard, dt.date(1900, 1, 1)) is not None

    def _reprompt(self, spec: SlotSpec, failures: int, narrower: str = "") -> str:
        person = self.w.lines["offer_person"]
        return reprompt(spec, failures, narrower, person, self.w.repair)

    def _back_to_menu(self, line: str) -> None:
        verified = self.state.verified
        self.state = FlowState("menu", verified=verified, awaiting="anything_else")
        self.say(line)


_QUESTION_WORDS = (
    "what",
    "where",
    "when",
    "how",
    "do",
    "does",
    "is",
    "are",
    "can",
    "could",
    "will",
)


def _is_question(text: str) -> bool:
    words = text.lower().split()
    return text.rstrip().endswith("?") or bool(words and words[0].strip(",") in _QUESTION_WORDS)


class _Emit:
    """An event for the integrations, queued with the reply so it is sent in order."""

    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        self.kind = kind
        self.data = data

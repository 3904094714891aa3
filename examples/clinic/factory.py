"""Creating the receptionist for each call, with what all calls share: data, KB, integrations."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callwright.core.hooks import Closer, EventHooks, Hook
from callwright.core.responder import CallInfo
from callwright.flows.guardrails import Guardrails
from callwright.flows.requests import Recogniser
from callwright.kb import KnowledgeBase
from callwright.kb.intents import IntentMeaning, knowledge_texts
from callwright.kb.open import CALIBRATION_FILE, open_knowledge
from callwright.kb.urgency import EmergencyMeaning
from examples.clinic.flow import LINES, RECOGNISER_TERMS, TASK_INTENTS, TASK_ITEMS
from examples.clinic.receptionist import Receptionist
from examples.clinic.scope import GUARDRAILS
from examples.clinic.store import ClinicStore, Doctor, Patient
from examples.clinic.tools import ClinicContext

log = logging.getLogger(__name__)

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
# Chosen by `python -m callwright.kb.calibrate` on kb_labels.tsv (see that file's header).
KB_THRESHOLDS = KNOWLEDGE_DIR / CALIBRATION_FILE
KB_LABELS = Path(__file__).resolve().parent / "kb_labels.tsv"
GENERIC_WORDS = ("clinic", "office", "practice")


@dataclass(frozen=True, slots=True)
class ClinicOptions:
    """How the receptionist is set up.

    Attributes:
        db_path: the clinic database (created and seeded when missing).
        knowledge_dir: folder of markdown files the agent answers from.
        kb_threshold: confidence needed to answer from the knowledge base; None takes the
            calibrated one (`kb_thresholds.json`, or 0.5 for words-only retrieval).
        kb_embedder: sentence embedder for retrieval by meaning ("minilm-l6", "e5-small"),
            or None for words only.
        today: the date calls are taken on (a function, so tests can pin it).
        knowledge_by_language: knowledge folders in the clinic's other languages, by code;
            searched by words (the sentence embedder is English).
        greeting: the first line of a call in English; None: the clinic's own ("Hello, thanks
            for calling Maple Street Clinic. ..."). Tests that do not check the greeting use
            one word, so that each spoken call starts sooner.
    """

    db_path: Path
    knowledge_dir: Path = KNOWLEDGE_DIR
    kb_threshold: float | None = None
    kb_embedder: str | None = "minilm-l6"
    today: Callable[[], dt.date] = dt.date.today
    knowledge_by_language: Mapping[str, Path] = field(default_factory=dict)
    greeting: str | None = None


@dataclass(slots=True)
class ClinicData:
    """What every call of the clinic shares."""

    store: ClinicStore
    kb: KnowledgeBase
    doctors: list[Doctor]
    patients: list[Patient]
    hooks: EventHooks = field(default_factory=EventHooks)
    urgency: EmergencyMeaning | None = None  # emergencies by meaning (needs the embedder)
    tasks: Recogniser = field(default_factory=lambda: Recogniser(TASK_INTENTS, TASK_ITEMS))
    kb_by_language: dict[str, KnowledgeBase] = field(default_factory=dict)

    async def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Hands an event to every hook (webhooks, calendar); a failing hook is logged."""
        await self.hooks.emit(kind, data)


async def open_clinic(options: ClinicOptions) -> ClinicData:
    """Opens the store and the knowledge base."""
    store = await ClinicStore.open(options.db_path)
    # The framework's knowledge loading: the shared embedder, and the thresholds calibrated
    # in the knowledge folder (`kb_thresholds.json`) unless the options pin one.
    kb = await open_knowledge(
        options.knowledge_dir,
        options.kb_threshold,
        None,
        GENERIC_WORDS,
        options.kb_embedder,
    )
    urgency = None
    tasks = Recogniser(TASK_INTENTS, TASK_ITEMS)
    if kb.embedder is not None:
        urgency = await asyncio.to_thread(EmergencyMeaning, kb.embedder)
        # Tasks by meaning too; what the knowledge base answers is asked as no task.
        others = knowledge_texts(kb.passages)
        meaning = await asyncio.to_thread(IntentMeaning, kb.embedder, TASK_INTENTS, others)
        tasks = Recogniser(TASK_INTENTS, TASK_ITEMS, meaning)
    others_by_language = {
        code: await open_knowledge(folder, None, None, GENERIC_WORDS, None)
        for code, folder in options.knowledge_by_language.items()
    }
    return ClinicData(
        store,
        kb,
        await store.doctors(),
        await store.patients(),
        urgency=urgency,
        tasks=tasks,
        kb_by_language=others_by_language,
    )


class ClinicResponderFactory:
    """Creates the deterministic receptionist for each call.

    Args:
        data: the opened clinic (see `open_clinic`).
        options: the options it was opened with.
    """

    name = "clinic-receptionist"

    def __init__(self, data: ClinicData, options: ClinicOptions) -> None:
        self.data = data
        self.options = options
        self.guardrails = Guardrails(GUARDRAILS)
        self.receptionists: dict[str, Receptionist] = {}

    @classmethod
    async def open(cls, options: ClinicOptions) -> ClinicResponderFactory:
        """Opens the clinic's data and returns the factory."""
        return cls(await open_clinic(options), options)

    def add_hook(self, hook: Hook, close: Closer | None = None) -> None:
        """Adds a receiver of clinic events (webhooks, calendar sync); `close` runs with the
        factory's (what they have not sent yet is kept or written)."""
        self.data.hooks.add(hook, close)

    async def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Sends an event that is not the receptionist's (a handoff) to the same hooks."""
        await self.data.emit(kind, data)

    def context(self, call: CallInfo) -> ClinicContext:
        """The tool context of a new call."""
        return ClinicContext(
            call_id=call.call_id,
            store=self.data.store,
            kb=self.data.kb,
            doctors=self.data.doctors,
            patients=self.data.patients,
            today=self.options.today(),
            emit=self.data.emit,
            kb_by_language=dict(self.data.kb_by_language),
        )

    def for_call(self, call: CallInfo) -> Receptionist:
        """Returns the receptionist that will serve `call`."""
        receptionist = Receptionist(
            call,
            self.context(call),
            self.guardrails,
            self.data.urgency,
            self.options.greeting,
            self.data.tasks,
        )
        # Kept so tests and the operator can see a call's flow state; bounded below.
        self.receptionists[call.call_id] = receptionist
        if len(self.receptionists) > 1000:
            self.receptionists.pop(next(iter(self.receptionists)))
        return receptionist

    def vocabulary(self) -> list[str]:
        """Names and terms callers will say, to bias the speech recogniser with."""
        return [*(d.spoken for d in self.data.doctors), *RECOGNISER_TERMS]

    def phrases(self) -> list[str]:
        """Fixed lines and knowledge answers, for pre-synthesis into the TTS cache."""
        return fixed_phrases(self.data.kb.phrases())

    async def close(self) -> None:
        """Closes the event receivers, the store and the knowledge base."""
        await self.data.hooks.close()
        await self.data.store.close()
        self.data.kb.close()
        for kb in self.data.kb_by_language.values():
            kb.close()


def fixed_phrases(extra: Iterable[str] = ()) -> list[str]:
    """Every line the receptionist says word for word."""
    lines: Sequence[str] = [v for k, v in LINES.items() if k != "filler"]
    return [*lines, *extra]

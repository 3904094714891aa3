"""Routing caller turns between models: a small fast one for simple turns, the agent's main
model for the rest.

The agent lists its routes (`Agent.llm_routes`); the first route whose rules a turn meets
answers it, every other turn goes to the configured model. The rules are kinds of turn,
recognised without a model:

- "greeting": a short turn that opens with a greeting ("hi", "hello there", "good morning");
- "yes_no": a short yes or no ("yeah that's right", "no thanks");
- "confirmation": a yes or no answering a question the agent just asked;
- "faq": a question the agent's knowledge base answers with confidence;
- "short": any turn of at most `max_words` words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callwright.core.responder import Message
from callwright.flows.slots import extract_yes_no
from callwright.kb import KnowledgeBase

TURN_KINDS = frozenset({"greeting", "yes_no", "confirmation", "faq", "short"})
# How callers open a call or a turn; a greeting followed by a request is not a greeting.
_GREETING = re.compile(
    r"^(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening|day)|greetings)\b", re.IGNORECASE
)
_GREETING_MAX_WORDS = 5


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """A model for the turns its rules pick.

    Attributes:
        model: the model these turns are sent to.
        when: the kinds of turn it takes (see the module docstring).
        max_words: turns longer than this never take the route (a "yes, but..." is not simple).
        base_url: its OpenAI-compatible server; None: the configured LLM server.
        api_key: its key; None: the configured key.
        name: how the call record names the route.
    """

    model: str
    when: Sequence[str] = ("greeting", "yes_no", "confirmation", "faq")
    max_words: int = 12
    base_url: str | None = None
    api_key: str | None = None
    name: str = "fast"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.when) - TURN_KINDS)
        if unknown:
            raise ValueError(f"route {self.name!r}: unknown turn kinds {unknown}")
        if self.name == "default":
            raise ValueError("the route name 'default' is the configured model's")


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text)


async def turn_kinds(
    text: str, history: Sequence[Message], kb: KnowledgeBase | None, wanted: frozenset[str]
) -> set[str]:
    """The kinds of `text` among `wanted` (the knowledge base is asked only if "faq" is).

    Args:
        text: the caller's turn.
        history: the conversation before it (the agent's last question).
        kb: the agent's knowledge base, if any.
        wanted: the kinds the routes care about.
    """
    kinds: set[str] = {"short"}
    n = len(_words(text))
    if _GREETING.match(text.strip()) and n <= _GREETING_MAX_WORDS:
        kinds.add("greeting")
    if extract_yes_no(text) is not None:
        kinds.add("yes_no")
        last = next((m for m in reversed(history) if m.role == "assistant"), None)
        if last is not None and not last.interrupted and last.content.rstrip().endswith("?"):
            kinds.add("confirmation")
    if "faq" in wanted and kb is not None and text.strip():
        verdict = await kb.judge(text)
        if verdict.answer is not None:
            kinds.add("faq")
    return kinds


async def choose_route(
    text: str, history: Sequence[Message], routes: Sequence[ModelRoute], kb: KnowledgeBase | None
) -> tuple[ModelRoute | None, str | None]:
    """The first route that takes `text`, and the kind of turn that made it; (None, None):
    the configured model."""
    if not routes or not text.strip():
        return None, None
    wanted = frozenset(kind for route in routes for kind in route.when)
    kinds = await turn_kinds(text, history, kb, wanted)
    n = len(_words(text))
    for route in routes:
        if n > route.max_words:
            continue
        for kind in route.when:
            if kind in kinds:
                return route, kind
    return None, None

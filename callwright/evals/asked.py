"""What an agent's words ask of a simulated caller: which kind of question, which options
it offers, whether it asks for a line again or offers the keypad."""

from __future__ import annotations

import datetime as dt
import re

from callwright.core.responder import ExpectedAnswer
from callwright.flows.expected import answers
from callwright.flows.slots import extract_date, extract_dob

# How an agent asks to hear something again.
REPEAT_REQUEST = re.compile(
    r"\b(didn'?t (quite )?(catch|get|hear|understand)|(say|repeat) (that|it) again|"
    r"could you repeat|(come|say) again|pardon)\b",
    re.I,
)
# The agent offers the keypad ("You can also type it on your keypad").
KEYPAD_OFFER = re.compile(r"\b(keypad|type it|key it in|enter it)\b", re.I)
PRESENCE_CHECK = re.compile(r"\b(are you still (there|with me)|hello\?)[?.!]?", re.I)


def gives_all(expected: ExpectedAnswer, text: str) -> bool:
    """Whether `text` gives a value for every kind of answer `expected` asks for."""
    return all(gives(kind, text) for kind in expected.kinds)


def gives(kind: str, text: str) -> bool:
    """Whether `text` gives a value of this kind of question (`flows.expected` kinds), a
    date to book not being a date of birth."""
    today = dt.date.today()
    if kind == "date":
        return extract_date(text, today) is not None and extract_dob(text, today) is None
    return answers(ExpectedAnswer((kind,)), text, today)


# What the agent asks for, recognised by the words of its last sentence(s).
ASKS = [
    ("name_dob", r"\bname\b.*\b(date of birth|birth ?date|born)\b|\b(date of birth|born)\b"
                 r".*\bname\b"),
    # "your name", "your first and last name", "your full legal name".
    ("name", r"\b(your|full|the patient's)( \w+){0,3} names?\b|\bwho (am i|is) speaking\b|"
             r"\bname,? please"),
    ("dob", r"\b(date of birth|birth ?date|when were you born|born)\b"),
    ("doctor", r"\b(which|what|who|a particular|preferred) (doctor|physician|provider)\b|"
               r"\bdoctor would you\b|\bsee (which|whom)\b"),
    ("day_time", r"\b(what|which) day and (what )?time\b|\bwhen would you like\b|"
                 r"\bwhat date and time\b"),
    ("day", r"\b(which|what) (day|date)\b|\bwhat day works\b|\bwhich day works\b"),
    ("time", r"\b(what|which) time\b|\btime works\b|\bmorning or (the )?afternoon\b"),
    ("reason", r"\b(reason|what brings you|what is it for|what's it for)\b"),
    ("more", r"\banything else\b|\bsomething else\b|\bhelp you with anything\b"),
    # Options to pick from: "nine or half past nine. Which would you like?", "did you mean
    # Doctor Patel or Doctor Park?". Before yes/no: "would you like" also opens a choice.
    ("choice", r"\bor\b[^.?!]*\?|\bor\b[^?!]*[.!]\s*(which|what)\b[^.!]*\?|"
               r"^(which|what)\b[^.!]*\bor\b[^.!]*\?"),
    # Last: "would you like" and "shall I" also open the specific questions above.
    ("yes_no", r"\b(is that (right|correct)|shall i|should i|do you want|would you like|"
               r"does that|(would|does) that work|work for you|can i (book|go ahead)|is this|"
               r"are you sure|correct\?|okay\?|"
               r"please say yes or no)"),
]  # fmt: skip


def offered_options(agent_said: str) -> list[str]:
    """The options listed with "or" in the agent's last three sentences ("nine, ten or
    three in the afternoon. Which would you like?" → "nine", "ten", "three in the
    afternoon"); empty when none are listed."""
    sentences = [s for s in re.split(r"(?<=[.?!:])\s+", agent_said.strip()) if s]
    listing = next((s for s in reversed(sentences[-3:]) if re.search(r"\bor\b", s, re.I)), "")
    return [o for o in re.split(r",\s*|\s+or\s+", listing.rstrip(".?!")) if o.strip()]


def answers_the_choice(agent_said: str, line: str) -> bool:
    """Whether `line` picks among the options the agent just offered: it gives a time when
    times were offered, a day when days were ("Which would you like?" after "at two or
    three" is answered by "Around three in the afternoon")."""
    if what_is_asked(agent_said) != "choice":
        return False
    options = offered_options(agent_said)
    kinds = {kind for kind in ("time", "date") for o in options if gives(kind, o)}
    return any(gives(kind, line) for kind in kinds) if line else False


def what_is_asked(agent_said: str) -> str | None:
    """The first kind of question in the agent's last two sentences, or None."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", agent_said.strip()) if s]
    tail = " ".join(sentences[-2:]).lower()
    for kind, pattern in ASKS:
        if re.search(pattern, tail):
            return kind
    return None

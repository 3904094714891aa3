"""Who calls in a scenario: a script, a rule-driven persona, or (optionally) an LLM.

Each caller is asked for its next line once the agent's reply has ended, with what the agent
said since the caller last spoke; it answers with a line, or None to hang up.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Protocol

from callwright.evals.asked import (
    ASKS,
    KEYPAD_OFFER,
    PRESENCE_CHECK,
    REPEAT_REQUEST,
    answers_the_choice,
    gives_all,
    offered_options,
    what_is_asked,
)
from callwright.evals.scenario import CallerLine
from callwright.flows.expected import from_question
from callwright.flows.names import names_with_a_title
from callwright.flows.slots import extract_date, extract_dob, extract_time
from callwright.kb.base import query_terms

UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()  # fmt: skip
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
           "nine": "ninth", "twelve": "twelfth"}  # fmt: skip


def number_words(n: int) -> str:
    """0-99 in words."""
    if n < 20:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    return TENS[tens] + (f"-{UNITS[unit]}" if unit else "")


def ordinal_words(n: int) -> str:
    """1-31 as a spoken ordinal ("fourth", "twenty-first")."""
    words = number_words(n)
    head, _, last = words.rpartition("-")
    last = ORDINAL.get(last, last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return f"{head}-{last}" if head else last


def year_words(year: int) -> str:
    """A year as people say it: "nineteen ninety", "two thousand", "two thousand and four"."""
    century, rest = divmod(year, 100)
    if year % 1000 < 10 and century % 10 == 0:
        return "two thousand" + (f" and {UNITS[year % 10]}" if year % 10 else "")
    if rest == 0:
        return f"{number_words(century)} hundred"
    tail = f"oh {UNITS[rest]}" if rest < 10 else number_words(rest)
    return f"{number_words(century)} {tail}"


def spoken_date_of_birth(value: str) -> str:
    """`1990-07-04` → "July fourth, nineteen ninety"; anything else is said as written."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return value
    return f"{day.strftime('%B')} {ordinal_words(day.day)}, {year_words(day.year)}"


AGAIN = "Sorry, could you say that again?"
GOODBYE = "No, that's everything. Thank you, goodbye."
FIRST_OPTION = "The first one, please."


class Caller(Protocol):
    """Decides the caller's next line from what the agent just said."""

    async def next_line(self, agent_said: str) -> CallerLine | None: ...


class ScriptedCaller:
    """Says its lines in order; a line with `after` waits for words matching it.

    Like a person, it says its last line again (twice at most) when the agent asks for it
    again instead of moving on: a request to repeat ("Sorry, I didn't catch that"), a
    question for the doctor its last line named, or a question its last line already
    answers that the next line does not ("And your date of birth?" after "June second,
    nineteen sixty-five" was heard as "June"). A yes or no said over the agent, before the
    question it answers was asked, is said again once the question comes (the agent takes
    a "yes" in the middle of its sentence for "I'm listening"). Offered the keypad after a
    line that gave a date of birth, it types the date (once). A line held back for its
    `after` words is said when it picks among options the agent offered
    (`answers_the_choice`); when no line left does, an earlier line that does is said
    again (once), and offered a choice again after that, it settles for the first option
    (once), as the persona caller does. `next_line` returns None when the script is done
    and nothing is asked again. A line whose `after` regex is not in what the agent said
    yet is held back (the runner asks again when the agent speaks again, and says it anyway
    after the turn timeout).

    Args:
        lines: the script.
        talks_over: the caller speaks into the agent's replies (the talk_over condition).
    """

    def __init__(self, lines: tuple[CallerLine, ...], talks_over: bool = False) -> None:
        self.lines = list(lines)
        self.heard = ""
        self.talks_over = talks_over
        self.last: CallerLine | None = None
        self.repeats = 0
        self.said_over = False  # the last line was said into a reply
        self.typed = False  # the last line's date of birth was typed on the keypad
        self.said: list[CallerLine] = []  # every line said, in order
        self.restated: list[CallerLine] = []  # lines said again to pick an option
        self.settled = False  # took the first option offered, having asked for its own
        self.task_from = 0  # index in `said` of the first line of the request in hand
        self.named: list[str] = []  # topics picked by name from an offered choice

    @property
    def done(self) -> bool:
        """Whether every line has been said (a repeat may still come)."""
        return not self.lines

    def ready(self, agent_said: str) -> bool:
        """Whether the caller speaks now: the next line's `after` condition holds for
        everything heard so far, the next line picks among options the agent offered, the
        agent asked for the last line again, or it offered the keypad for it."""
        heard = self.heard + " " + agent_said
        if self.asked_again(heard):
            return True
        if self._keypad_due(heard) is not None or self._restated(heard) is not None:
            return True
        if self._settles(heard) or self._named_topic(heard) is not None:
            return True
        if not self.lines or self.lines[0].after is None:
            return True
        if answers_the_choice(heard, self.lines[0].say):
            return True  # a person answers an offered choice, whatever word they waited for
        return re.search(self.lines[0].after, heard, re.I) is not None

    def asked_again(self, agent_said: str) -> bool:
        """Whether `agent_said` asks for the last line again (see the class)."""
        last = self.last
        if last is None or not last.say or self.repeats >= 2 or not agent_said.strip():
            return False
        said = PRESENCE_CHECK.sub(" ", agent_said).strip()
        expected = from_question(said)
        upcoming = self.lines[0].say if self.lines else ""
        if expected is not None and upcoming and gives_all(expected, upcoming):
            return False  # the agent moved on to what the next line answers
        if REPEAT_REQUEST.search(said):
            return True
        if what_is_asked(said) == "doctor" and names_with_a_title(last.say):
            # "Which doctor would you like to see?" after "make it Doctor Nguyen instead".
            return not names_with_a_title(upcoming)
        if expected is None or not gives_all(expected, last.say):
            return False
        # "Is there anything else?" is a yes/no question too: a yes/no answer is only said
        # again when it was said over the agent, before the question was heard.
        return "yes_no" not in expected.kinds or self.said_over

    def keyed(self, agent_said: str) -> CallerLine | None:
        """The last line's date of birth typed as month, day, year and #, when the agent
        offers the keypad after it (once): a person who was not understood types it."""
        born = self._keypad_due(agent_said)
        if born is None:
            return None
        self.typed = True
        return CallerLine(keys=born.strftime("%m%d%Y") + "#")

    def _keypad_due(self, agent_said: str) -> dt.date | None:
        last = self.last
        if last is None or not last.say or self.typed or not KEYPAD_OFFER.search(agent_said):
            return None
        return extract_dob(last.say)

    async def next_line(self, agent_said: str) -> CallerLine | None:
        heard, self.heard = self.heard + " " + agent_said, ""
        if (keys := self.keyed(heard)) is not None:
            return keys
        if (wanted := self._restated(heard)) is not None:
            self.restated.append(wanted)
            return wanted
        if self._settles(heard):
            self.settled = True
            return CallerLine(say=FIRST_OPTION)
        if (topic := self._named_topic(heard)) is not None:
            self.named.append(topic.lower())
            return CallerLine(say=f"{topic[0].upper()}{topic[1:]}, please.")
        if what_is_asked(heard) == "more":
            self.task_from = len(self.said)  # "Anything else?": what comes next is a new request
        # Talking over, the words at hand are of the reply the last line was said into, not
        # an answer to it: a caller with lines left goes on with them.
        if (self.done or not self.talks_over) and self.asked_again(heard):
            self.repeats += 1
            self.said_over = False  # said again once the question was heard
            return self.last
        if not self.lines:
            return None
        self.said_over = self.talks_over and self.last is not None  # the first line is not
        self.last, self.repeats, self.typed = self.lines.pop(0), 0, False
        self.said.append(self.last)
        return self.last

    def _settles(self, agent_said: str) -> bool:
        """Offered a choice again after saying what it wanted again, with no line left that
        picks: a person takes one of the options rather than say "Yes" to "Which one?"."""
        upcoming = self.lines[0].say if self.lines else ""
        if self.settled or not self.restated or what_is_asked(agent_said) != "choice":
            return False
        return not answers_the_choice(agent_said, upcoming)

    def _restated(self, agent_said: str) -> CallerLine | None:
        """An earlier line that picks among the options just offered, when the next line
        does not: offered "eight or half past eight" for the ten o'clock it asked for (heard
        without "at ten"), a person says what they want again rather than "Yes". Once a line.
        """
        upcoming = self.lines[0].say if self.lines else ""
        if what_is_asked(agent_said) != "choice" or answers_the_choice(agent_said, upcoming):
            return None
        # Only the request in hand: a booking finished earlier is not what the caller wants
        # now (a reschedule whose time was lost must not become the first booking again).
        for line in reversed(self.said[self.task_from :]):
            if line not in self.restated and answers_the_choice(agent_said, line.say):
                return line
        return None

    def _named_topic(self, agent_said: str) -> str | None:
        """The option the last line named, when the agent asks which of several things it
        meant ("Are you asking about phone and fax or opening hours?" after "What are your
        opening hours?" was misheard): a person names it rather than move on. Once a topic;
        options that are times or days are left to `_restated` and the next line."""
        last = self.last.say if self.last is not None and self.last.say else ""
        upcoming = self.lines[0].say if self.lines else ""
        if not last or what_is_asked(agent_said) != "choice":
            return None
        if answers_the_choice(agent_said, upcoming) or answers_the_choice(agent_said, last):
            return None
        said, next_words = set(query_terms(last)), set(query_terms(upcoming))
        for option in offered_options(agent_said):
            words = query_terms(option)
            # The option's own words are its tail: "Are you asking about phone and fax".
            topic = words[-2:] if len(words) > 2 else words
            if topic and all(w in next_words for w in topic):
                return None  # the script's next line names it
            if topic and all(w in said for w in topic):
                # As the agent said it, from the topic's first word: "phone and fax".
                raw = option.split()
                starts = [i for i, w in enumerate(raw) if topic[0] in query_terms(w)]
                first = starts[-1] if starts else max(0, len(raw) - len(topic))
                name = " ".join(raw[first:]).rstrip(",.?!")
                return None if name.lower() in self.named else name
        return None


@dataclass(slots=True)
class PersonaCaller:
    """A rule-driven caller answering what the agent asks from a persona.

    Persona fields (all optional): `goal` (the first thing the caller says), `name`,
    `date_of_birth` (ISO, said as people say it), `doctor`, `day`, `time`, `reason` (said as
    written), `answer_yes` (to yes/no questions; default true), `max_turns` (default 10).
    """

    persona: dict[str, Any]
    turns: int = 0
    done: bool = False
    unanswered: int = 0
    preference_said: int = 0
    last_kind: str | None = None  # what the agent asked last ("keypad, please" does not say)
    day_corrected: int = 0  # read-backs of another day than the persona's, said no to

    def answer(self, kind: str | None) -> str:
        p = self.persona
        dob = spoken_date_of_birth(str(p.get("date_of_birth", "")))
        answers = {
            "yes_no": "Yes, that's right."
            if p.get("answer_yes", True)
            else "No, that's not right.",
            "name_dob": f"{p.get('name', '')}, born {dob}.",
            "name": f"It's {p.get('name', '')}.",
            "dob": f"{dob}.",
            "doctor": f"Doctor {p.get('doctor', '')}, please.",
            "day_time": f"{p.get('day', '')} at {p.get('time', '')}.",
            "day": f"{p.get('day', '')}, please.",
            "time": f"{p.get('time', '')} would be good.",
            "reason": f"{p.get('reason', 'Just a checkup')}.",
        }
        return answers.get(kind or "", "")

    def choose(self, agent_said: str) -> str:
        """Picks among the options the agent offered: the persona's own time or doctor when
        offered (said in the persona's words); a time not offered is asked for twice; else
        the first option."""
        options = offered_options(agent_said)
        p = self.persona
        wanted = extract_time(str(p.get("time", ""))) if p.get("time") else None
        for option in options:  # the time asked for first: every option names the doctor
            offered = extract_time(option)
            if wanted and wanted.time and offered and offered.time == wanted.time:
                return self._pick_time()
        if wanted and wanted.time and self.preference_said < 2:
            self.preference_said += 1  # not offered: the caller says what it wants, twice
            return self._pick_time()
        doctor = str(p.get("doctor", "")).lower()
        doctors = [o for o in options if re.search(r"\b(doctor|dr)\b", o, re.I)]
        if doctor and len(doctors) > 1 and any(doctor in o.lower() for o in doctors):
            return self.answer("doctor")  # a choice of doctors ("Patel or Park?")
        return FIRST_OPTION

    def _wrong_day(self, agent_said: str) -> bool:
        """Whether the question reads back another day than the persona's (twice at most):
        a caller who asked for Wednesday, December 16th does not agree to November 16th."""
        today = dt.date.today()
        wanted = extract_date(str(self.persona.get("day", "")), today)
        read = extract_date(agent_said, today)
        if wanted is None or read is None or read == wanted or self.day_corrected >= 2:
            return False
        self.day_corrected += 1
        return True

    def _wrong_doctor(self, agent_said: str) -> bool:
        """Whether the question names a doctor who is not the persona's."""
        doctor = str(self.persona.get("doctor", "")).lower()
        named = re.findall(r"\b(?:doctor|dr\.?) ([a-z]+)", agent_said.lower())
        return bool(doctor and named and doctor not in named)

    def _typed_time(self) -> str | None:
        """The persona's time as keys: the hour on the 12-hour clock, the minutes, and #."""
        wanted = extract_time(str(self.persona.get("time", "")))
        if wanted is None or wanted.time is None:
            return None
        hour = wanted.time.hour % 12 or 12
        return f"{hour}{wanted.time.minute:02d}#"

    def _pick_time(self) -> str:
        time = str(self.persona.get("time", ""))
        return f"{time[:1].upper()}{time[1:]}, please."

    def phrases(self) -> list[str]:
        """Everything this caller may say (to synthesize before the call)."""
        kinds = [kind for kind, _ in ASKS]
        fixed = [str(self.persona.get("goal", "Hi, I need some help.")), AGAIN, GOODBYE]
        picks = [FIRST_OPTION, self._pick_time()] if self.persona.get("time") else [FIRST_OPTION]
        if self.persona.get("doctor"):
            picks.append(f"No, {self.answer('doctor')}")
        return [*fixed, *picks, *(self.answer(k) for k in kinds if self.answer(k))]

    async def next_line(self, agent_said: str) -> CallerLine | None:
        self.turns += 1
        if self.done or self.turns > int(self.persona.get("max_turns", 10)):
            return None
        if self.turns == 1:
            return CallerLine(say=str(self.persona.get("goal", "Hi, I need some help.")))
        # "Are you still there?" (the agent's prompt while the caller was slow to answer)
        # hides the question before it: answer the question.
        agent_said = PRESENCE_CHECK.sub(" ", agent_said).strip()
        kind = what_is_asked(agent_said)
        if kind == "more":
            self.done = True
            return CallerLine(say=GOODBYE)
        keypad = KEYPAD_OFFER.search(agent_said)
        if kind is not None:
            self.last_kind = kind
        if keypad and self.last_kind == "dob" and self.persona.get("date_of_birth"):
            # Offered the keypad for the date of birth: typed as month, day, year and #.
            self.unanswered = 0
            born = dt.date.fromisoformat(str(self.persona["date_of_birth"]))
            return CallerLine(keys=born.strftime("%m%d%Y") + "#")
        if keypad and self.last_kind == "time" and (typed := self._typed_time()):
            # Offered the keypad for the time: typed as the hour and then the minutes.
            self.unanswered = 0
            return CallerLine(keys=typed)
        words = self.choose(agent_said) if kind == "choice" else self.answer(kind)
        if kind == "yes_no" and self._wrong_doctor(agent_said):
            words = f"No, {self.answer('doctor')}"  # "Doctor Patel, is that right?"
        elif kind == "yes_no" and self._wrong_day(agent_said):
            words = f"No, {self.answer('day')}"  # "...on Tuesday, November sixteenth?"
        if not words or re.search(r"\b(goodbye|bye)\b", agent_said.lower()):
            # Nothing asked that this persona can answer: after twice, the caller gives up.
            self.unanswered += 1
            if self.unanswered > 1 or "bye" in agent_said.lower():
                return None
            return CallerLine(say=AGAIN)
        self.unanswered = 0
        return CallerLine(say=words)

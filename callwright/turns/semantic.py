"""How long to wait in a pause, from what the caller has said so far.

VAD silence alone cuts off callers who pause mid-sentence and makes everyone else wait.
The speculative transcript of the pause says more: "I'd like to book..." or "my number is
five five five" is not finished; "What are your opening hours?" is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from callwright.turns.dictation import DICTATION_LEADS, bare_announcement, half_dictated


class Completeness(Enum):
    """How finished an utterance sounds."""

    COMPLETE = "complete"
    NEUTRAL = "neutral"
    INCOMPLETE = "incomplete"


# Words after which an English sentence cannot end.
_TRAILING_FUNCTION_WORDS = frozenset(
    """a an the and or but so because if then than that which who whose to of for with on in at
    by from about into onto my your our their his her its is are was were am be been being do
    does did have has had will would can could should may might must shall i'd i'll i'm i've
    we're you're it's there's let's like um uh er erm hmm well also plus just like maybe
    except whether although unless whereas during despite among via per upon toward towards
    between""".split()
)
# Subordinators: a clause they open needs its verb, so "if you" or "whether it" ends nothing.
_SUBORDINATORS = frozenset(
    "if whether because when while although though unless since until once whereas".split()
)
# Those that are never prepositions: after them "the store" is a subject, not an object
# ("whether the store", but "since the weekend" ends a sentence).
_CLAUSE_ONLY_SUBORDINATORS = frozenset("if whether because although though unless whereas".split())
# Auxiliaries that end a short answer after a subject pronoun ("it is", "I do", "we have").
_AUXILIARIES = frozenset(
    """is are was were am be been do does did have has had will would can could should may
    might must shall""".split()
)
_SUBJECT_PRONOUNS = frozenset("i you he she it we they there that".split())
_SHORT_ANSWER_WORDS = 4
# Verbs that leave the caller's request hanging when they end the utterance.
_HANGING_VERBS = frozenset(
    """book schedule make see get need want change cancel reschedule move check ask speak talk
    know find tell give call pay order""".split()
)
_SHORT_ANSWERS = frozenset(
    """yes yeah yep no nope sure okay ok correct right exactly thanks goodbye bye please""".split()
)
_WORD = re.compile(r"[a-z0-9']+")
# How the recogniser ends words it heard cut off: the audio stopped, maybe mid-sentence.
_CUT_MARKS = ("...", "…", ",", "-", "—")
_TRAILING_DOTS = ("...", "…")
# A word the recogniser heard begun and cut off, last: "a f-", "the appoint—".
_BEGUN_WORD = re.compile(r"\s[A-Za-z']++[-—]\s*+$")


def completeness(
    text: str,
    answers_question: bool = False,
    after_silence: bool = False,
) -> Completeness:
    """Judges a (speculative) transcript of everything the caller said in this turn.

    Args:
        text: the transcript.
        answers_question: it holds everything the agent's open question asked for (a name and
            a date of birth, a day): then it is complete unless its last word cannot end a
            sentence ("...and I was born on").
        after_silence: the recogniser heard the pause too (the second look, 450 ms into it):
            trailing dots then say nothing about the audio stopping mid-sentence, and only the
            words hold the turn (a trailing comma still does: a clause is still coming).
    """
    stripped = text.strip()
    if after_silence and stripped.endswith(_TRAILING_DOTS):
        stripped = stripped.rstrip("".join(_TRAILING_DOTS) + " ") + "."
    if not stripped:
        return Completeness.NEUTRAL
    lowered = stripped.lower().replace("’", "'")
    words = _WORD.findall(lowered)
    if not words:
        return Completeness.NEUTRAL
    if ends_mid_sentence(stripped):
        return Completeness.INCOMPLETE
    if answers_question:
        # "Thursday, please..." answers "which day?": the recogniser's trailing dots or comma
        # say only that the audio stopped.
        return Completeness.COMPLETE
    if stripped.endswith(_CUT_MARKS):
        return Completeness.INCOMPLETE
    address = _FORM_OF_ADDRESS.search(stripped)
    if address is not None and address.start() > 0:
        # A form of address completes no sentence: "Can I see, Doctor?" is "Can I see" (the
        # recogniser's comma before a title whose name the caller paused before), while
        # "Thank you, Doctor." is "Thank you". Only the words before it may hold the turn.
        if completeness(stripped[: address.start()]) is Completeness.INCOMPLETE:
            return Completeness.INCOMPLETE
    if stripped.endswith("?"):
        # A question is a whole turn ("Where is my order?", "Can I change it?"): a verb or a
        # number before the question mark says nothing more is coming.
        return Completeness.COMPLETE
    if any(lowered.rstrip(" .!").endswith(lead) for lead in DICTATION_LEADS):
        return Completeness.INCOMPLETE
    if bare_announcement(words):
        return Completeness.INCOMPLETE
    if half_dictated(words):
        return Completeness.INCOMPLETE
    if words[-1] in _HANGING_VERBS and len(words) <= 6:
        return Completeness.INCOMPLETE
    if len(words) <= 3 and words[0] in _SHORT_ANSWERS:
        return Completeness.COMPLETE
    if stripped.endswith((".", "!")) and len(words) >= 3:
        # Not shorter: the recogniser writes "Thank you." or "Wait." for the words before a
        # comma's pause ("Thank you, goodbye.", "Wait, stop.").
        return Completeness.COMPLETE
    return Completeness.NEUTRAL


def ends_mid_sentence(text: str) -> bool:
    """True when the last word is one an English sentence cannot end on ("and", "the", "on",
    "except"; "you" or "it" right after "if" or "because"), or a clause opened by
    "if", "whether" or "because" stops on its subject ("whether the store"), or the whole
    utterance names an item without its "is" ("My date of birth.").

    An auxiliary after a subject pronoun is a short answer, not a clause left open ("Yes, it
    is.", "Yes, I do."): up to four words, it ends the sentence. So does "that"
    closing a question ("Can you repeat that?").
    """
    begun = _BEGUN_WORD.search(text)
    if begun is not None and begun.start() > 0:
        if begun.group().strip(" -—").lower() in _TRAILING_FUNCTION_WORDS:
            # "I'd like to schedule a-": the article with a cut mark, or a word begun with
            # it; either way no sentence ends there.
            return True
        # "I'd like to schedule a f-": a word cut off as it began says only that the audio
        # stopped; the sentence is judged on the words before it ("...schedule a").
        return ends_mid_sentence(text[: begun.start()])
    words = _WORD.findall(text.lower().replace("’", "'"))
    if words and _ends_on_a_title(text):
        return True
    if not words:
        return False
    last, before = words[-1], words[-2] if len(words) > 1 else ""
    if last in ("you", "it") and before in _SUBORDINATORS:
        # The subject of a clause still waiting for its verb ("I was wondering if you");
        # elsewhere "you" and "it" are objects that end sentences ("Thank you.").
        return True
    if _subject_without_verb(words):
        return True
    if bare_announcement(words) and not text.rstrip().endswith("?"):
        # "My date of birth." as the whole utterance is "my date of birth is" with the "is"
        # the caller paused after lost by the recogniser: a sentence cannot end there, so
        # the wait may pass the 1.2 s a sentence that could be finished gets. (Asked back,
        # "My date of birth?" is a whole question.)
        return True
    if words[-1] not in _TRAILING_FUNCTION_WORDS:
        return False
    if last in _AUXILIARIES and before in _SUBJECT_PRONOUNS and len(words) <= _SHORT_ANSWER_WORDS:
        return False
    return not (last == "that" and text.rstrip().endswith("?"))


def _subject_without_verb(words: list[str]) -> bool:
    """A clause opened by "if", "whether" or "because" that has its subject, a determiner and
    one noun, but not yet its verb ("Could you tell me whether the store")."""
    if len(words) < 3:
        return False
    opener, determiner, noun = words[-3:]
    return (
        opener in _CLAUSE_ONLY_SUBORDINATORS
        and determiner in _DETERMINERS
        and noun not in _TRAILING_FUNCTION_WORDS
    )


def _ends_on_a_title(text: str) -> bool:
    """A title that announces a name ends no sentence: an abbreviated one ("Mr.", "Dr.") always
    announces one; a spelled-out one only as a title, which the recogniser capitalizes and
    which follows no determiner ("Can I see Doctor", not "see the doctor") and no comma (a
    form of address closes a sentence: "Thank you, Doctor.")."""
    raw = _RAW_WORD.findall(text.replace("’", "'"))
    if not raw:
        return False
    last = raw[-1]
    if last.lower() in _TITLE_ABBREVIATIONS:
        return True
    if last.lower() not in _TITLES or not last[0].isupper() or len(raw) < 2:
        return False
    before = text[: text.rstrip(" .?!").rfind(last)].rstrip()
    return not before.endswith(",") and raw[-2].lower() not in _DETERMINERS


_RAW_WORD = re.compile(r"[A-Za-z0-9']+")
_TITLE_ABBREVIATIONS = frozenset("mr mrs ms dr prof".split())
_TITLES = frozenset("doctor professor nurse".split())
# A spelled-out title after a comma, last: how the recogniser writes a form of address.
_FORM_OF_ADDRESS = re.compile(rf",\s*+(?:{'|'.join(sorted(_TITLES))})[.?!]*+$", re.IGNORECASE)
_DETERMINERS = frozenset("a an the my your our their his her its this that".split())


@dataclass(frozen=True, slots=True)
class PatienceOptions:
    """End-of-turn silence by completeness, in ms, and how patience adapts.

    Attributes:
        complete_ms: silence before answering a finished-sounding utterance.
        neutral_ms: silence when the words say nothing either way.
        incomplete_ms: silence when the caller is clearly not done.
        per_resume_ms: added for each time this caller resumed after a long pause (not to
            words that sound finished).
        max_ms: hard maximum, whatever was said.
        sure_max_ms: the maximum unless the words end on one a sentence cannot end on ("and",
            "the", "on"): a caller who stopped on "March third, nineteen eighty" or on a
            garbled word is answered by then.
    """

    complete_ms: float = 280.0
    neutral_ms: float = 520.0
    incomplete_ms: float = 1800.0
    per_resume_ms: float = 150.0
    max_ms: float = 2500.0
    sure_max_ms: float = 1200.0


class PatiencePolicy:
    """Per-call end-of-turn patience: what was said, adapted to how this caller pauses."""

    def __init__(self, options: PatienceOptions | None = None) -> None:
        self.options = options or PatienceOptions()
        self._resumes = 0

    def caller_resumed(self, pause_ms: float) -> None:
        """The caller spoke again after a pause of `pause_ms` within one turn."""
        if pause_ms >= 250.0:
            self._resumes += 1

    def end_of_turn_ms(
        self, verdict: Completeness, mid_sentence: bool = True, answered: bool = False
    ) -> float:
        """Silence after which the turn counts as over.

        Args:
            verdict: how finished the words sound.
            mid_sentence: the words end on one a sentence cannot end on; only then may the wait
                go past `sure_max_ms`.
            answered: the words hold everything the agent's open question asked for: then
                the wait is at most the neutral one, even on a trailing "and".
        """
        opts = self.options
        base = {
            Completeness.COMPLETE: opts.complete_ms,
            Completeness.NEUTRAL: opts.neutral_ms,
            Completeness.INCOMPLETE: opts.incomplete_ms,
        }[verdict]
        limit = opts.max_ms if mid_sentence else min(opts.max_ms, opts.sure_max_ms)
        if answered and verdict is not Completeness.COMPLETE:
            # Everything the open question asked for is there: a trailing "and" may bring
            # more, but it is held no longer than words that say nothing either way (the
            # recogniser writes "and..." after a name it could not make out: "I'd like to see
            # Doctor NGBY and..." waited 1.2 s for nothing).
            base = opts.neutral_ms
        if verdict is Completeness.COMPLETE:
            # A finished sentence, or all the open question asked for: how often this caller
            # paused mid-sentence says nothing about it ("Thank you, goodbye." after a long,
            # hesitant answer waited 730 ms).
            return min(limit, base)
        return min(limit, base + self._resumes * opts.per_resume_ms)

"""Yes, no or neither in a caller's answer: a small polarity reader, not a list of phrases.

The words are read as the recogniser writes them (any case, with or without punctuation):

- cue words say yes or no: the answer words and their spelling families, matched by pattern
  ("yeah", "yeh", "yah", "yup"; "nope", "nah", "naw"; "mm-hmm", "uh-huh"; "uh-uh"), assent
  adverbs ("sure", "absolutely"), actions ("go ahead", "book it") and, more weakly, words
  that judge the proposal ("fine", "great", "that works", "no problem");
- a negator ("not", "n't", "never", "no" before a noun) takes the cue after it: a negated yes
  is a no ("not right"), a negated problem is a yes ("not a problem", "I don't mind"), a
  negated knowing is a hedge ("not sure", "no idea"); a "not" with nothing to negate after an
  assent word is the answer ("absolutely not"), after "why" a yes ("why not");
- the caller may correct themself: after "wait", "actually", "I mean" only what follows
  counts, and of the answer words the last one decides ("sure, no" is a no);
- a question back ("what day was that?") and a hedge ("maybe") are no answer, nor are a
  yes and a no said together ("yes and no"), nor a yes with a later "I don't...".

None means "ask again", never a guess: at a read-back a wrong yes books the wrong thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z]+(?:['-][a-z]+)*|[,.;!?]")
_YES = re.compile(r"y+(?:e+[sp]+|e+a+[hp]*|e+h+|a+h+|u+p+|e+u+p+|a+s+)|yessir")
_NO = re.compile(r"n+o+|n+o+p+e*|n+a+h+|n+a+w+|n+a+y+")
# Acknowledgements: "ok", "okay", "kay", "alright", "aight" (judged weakly, like "fine").
_OK = re.compile(r"o+k+(?:a+y+|e+y+|ie)?|k+a+y+|a+l+r+i+(?:g*h*t+e?)y?|a+i+g*h*t+")
# Hummed answers: "mm-hmm", "mhm", "uh-huh" agree; "uh-uh", "mm-mm", "nuh-uh" refuse (only
# with the hyphen: "uh uh" unhyphenated is a hesitation).
_HUM_YES = re.compile(r"m+-?h+m+|u+h+-?h+u+h+")
_HUM_NO = re.compile(r"(?:u+h+|m+|n+u+h+|u+n+h+|h+u+h+)-(?:u+h+|m+|u+n+h+)")
# A negator: "not", "never", "cannot" and every "n't" form, with or without the apostrophe.
_NEGATOR = re.compile(
    r"not|never|cannot|\w+n't|(?:do|does|did|ca|can|wo|is|are|was|were|would|should|could"
    r"|have|has|had|need|must|ai)nt"
)
_ASSENT = frozenset(
    """sure absolutely definitely certainly exactly indeed affirmative agreed agree surely
    totally precisely confirmed proceed of-course""".split()
)
# Adjectives that say yes only said of the proposal ("that's right", "correct"), not before
# a noun ("the right time").
_ASSENT_ADJECTIVES = frozenset({"right", "correct"})
_DISSENT = frozenset({"negative", "wrong", "incorrect"})
_JUDGEMENTS = frozenset(
    """fine good great perfect excellent wonderful lovely awesome brilliant cool nice grand super
    ideal fantastic terrific""".split()
)
# What a negator turns into agreement ("no problem", "not a bother", "not bad").
_PROBLEMS = frozenset(
    """problem problems prob probs worries bother trouble issue issues objection objections
    biggie bad complaints""".split()
)
_KNOWING = frozenset({"sure", "certain", "know", "idea", "remember", "clue"})  # negated: a hedge
_HEDGES = frozenset({"maybe", "perhaps", "possibly", "unsure", "dunno"})
_OBJECTS = frozenset({"it", "that", "this", "them", "me", "us"})
_SELF = frozenset({"i'm", "im", "i", "am", "we're"})  # "I'm good": about the caller, not a yes
_FILLERS = frozenset("um uh er erm hmm hm mm ah oh well like just really then".split())
# Words after a judgement that keep it said of the proposal ("fine by me", "great, thanks").
_AFTER_JUDGEMENT = frozenset(
    "for by with to me thanks then so and but please too actually though yes".split()
)
_CONJUNCTIONS = frozenset({"but", "and", "or", "so", "though", "because", "cause"})
_REPAIRS = frozenset({"wait", "actually", "sorry", "oops", "i-mean", "i-meant", "hold-on",
                      "hang-on", "scratch-that", "or-rather"})  # fmt: skip
_HOLDS = frozenset({"wait", "hold-on", "hang-on"})  # said last: the caller is still deciding
_WH = frozenset("what when which who whom whose where how why".split())
_AUX = frozenset(
    """is are was were am do does did can could will would shall should have has isn't aren't
    don't doesn't didn't can't couldn't won't wouldn't""".split()
)
_REQUESTS = frozenset({"can", "could", "would", "will"})  # "could you book it?" asks for it
_LEADERS = frozenset({"right", "now", "so"})  # discourse words that may open a question
_COPULAS = frozenset("is are was were sounds looks seems".split())
_WHOLE = frozenset("that it this everything all".split())  # "that's right" is said of it all
_PRONOUNS = frozenset("i you we it that this they he she".split())
_SUBJECTS = frozenset("i you we it that this they he she there the my your".split())
_PAIRS = {("all", "right"): "alright", ("of", "course"): "of-course", ("i", "mean"): "i-mean",
          ("i", "meant"): "i-meant", ("hold", "on"): "hold-on", ("hang", "on"): "hang-on",
          ("scratch", "that"): "scratch-that", ("or", "rather"): "or-rather",
          ("thank", "you"): "thanks"}  # fmt: skip
_BREAKS = frozenset(",.;!?") | _CONJUNCTIONS | _REPAIRS


@dataclass(frozen=True, slots=True)
class _Cue:
    at: int  # the word's position
    says: bool | None  # None: a hedge
    weight: int  # 3: an answer word; 2: a clause negated with no cue in it; 1: a judgement


def words(text: str) -> list[str]:
    """The lower-cased words and punctuation of a transcript, with two-word forms joined
    ("all right" → "alright", "uh huh" → "uh-huh")."""
    raw = _TOKEN.findall(text.lower().replace("’", "'").replace("…", ",").replace("—", ","))
    out: list[str] = []
    for word in raw:
        if out and (pair := _PAIRS.get((out[-1], word))):
            out[-1] = pair
        elif out and _HUM_YES.fullmatch(f"{out[-1]}-{word}"):
            out[-1] = f"{out[-1]}-{word}"
        else:
            out.append(word)
    return out


def _answer_word(word: str) -> bool | None:
    if _YES.fullmatch(word) or _HUM_YES.fullmatch(word) or word in _ASSENT:
        return True
    if _NO.fullmatch(word) or _HUM_NO.fullmatch(word) or word in _DISSENT:
        return False
    return None


def _particle(word: str) -> bool:
    """A yes or no of its own ("yeah", "nope", "mm-hmm"): a clause by itself."""
    return any(p.fullmatch(word) for p in (_YES, _NO, _HUM_YES, _HUM_NO))


def _said_of_the_proposal(after: str) -> bool:
    """Whether a judgement ("fine", "right") ends its phrase, as in "that's fine" or "fine by
    me", rather than describing a noun after it ("the right time", "good morning")."""
    return (
        after in _BREAKS
        or after in _PRONOUNS
        or after.endswith(("'s", "'ll", "'m", "'re", "'d"))  # "correct, that's me"
        or after in _AFTER_JUDGEMENT
        or after in _FILLERS
        or _answer_word(after) is not None
        or bool(_OK.fullmatch(after))
    )


def _of_a_part(ws: list[str], i: int) -> bool:
    """Whether the judgement at `i` is said of one part of the proposal ("the doctor is
    right", "the time's fine"), not of all of it ("that's right", "sounds good")."""
    before = ws[i - 1] if i else ""
    if before in _COPULAS:
        subject = ws[i - 2] if i > 1 else ""
    elif before.endswith("'s"):
        subject = before[:-2]
    else:
        return False
    return subject.isalpha() and not (
        subject in _WHOLE or subject in _FILLERS or _answer_word(subject) is not None
    )


def _ends_clause(ws: list[str], start: int) -> bool:
    """Whether nothing but fillers and thanks follows `start` in its clause."""
    for word in ws[start:]:
        if word in _BREAKS:
            return True
        if word not in _FILLERS and word not in ("thanks", "please"):
            return False
    return True


def _cue(ws: list[str], i: int) -> _Cue | None:
    """What word `i` says on its own, before any negator is applied."""
    word, before = ws[i], ws[i - 1] if i else ""
    after = ws[i + 1] if i + 1 < len(ws) else "."
    if word == "sure" and before == "make":
        return None
    if (said := _answer_word(word)) is not None:
        return _Cue(i, said, 3)
    if word in _HEDGES:
        return _Cue(i, None, 3)
    if word == "go" and after in ("ahead", "for", "with"):
        return _Cue(i, True, 3)
    if word in ("book", "confirm", "do") and (
        after in _OBJECTS or after in _BREAKS or before == "please"
    ):
        return _Cue(i, True, 3)  # "book it", "please do", "I confirm"
    if word == "bet" and before == "you":
        return _Cue(i, True, 3)
    if word == "why" and _NEGATOR.fullmatch(after) and _ends_clause(ws, i + 2):
        return _Cue(i, True, 3)  # "sure, why not": nothing against it ("why not Friday?" asks)
    if (word in _ASSENT_ADJECTIVES or word in _JUDGEMENTS) and _of_a_part(ws, i):
        return None
    if word in _ASSENT_ADJECTIVES and _said_of_the_proposal(after):
        return _Cue(i, True, 3)
    if (word == "got" and after == "it") or (word in ("think", "guess", "hope") and after == "so"):
        return _Cue(i, True, 1)
    if word == "works" or (word == "work" and (before.endswith(("'ll", "'d")) or before in _AUX)):
        return _Cue(i, True, 1)  # "works for me", "that would work"
    if before in _SELF:
        return None  # "I'm good", "I'm okay": how the caller is, not an answer
    if _OK.fullmatch(word) or (word in _JUDGEMENTS and _said_of_the_proposal(after)):
        return _Cue(i, True, 1)
    return None


def _negated(ws: list[str], i: int, cues: dict[int, _Cue]) -> None:
    """Apply the negator at `i` to what it negates, in `cues` (word position → cue)."""
    if i and ws[i - 1] == "why":
        return  # "why not", "why don't you": a suggestion (the "why" is the yes)
    scope = []
    for j in range(i + 1, min(i + 4, len(ws))):
        if ws[j] in _BREAKS or ws[j] in _WH or _NEGATOR.fullmatch(ws[j]) or _particle(ws[j]):
            break
        scope.append(j)
    for j in scope:
        if ws[j] in _KNOWING:
            cues[j] = _Cue(j, None, 3)  # "not sure", "I don't know", "no idea"
            return
        if ws[j] == "mind" and ws[i] != "never":
            cues[j] = _Cue(j, True, 1)  # "I don't mind" ("never mind" drops the matter)
            return
    # "Don't", "please don't bother": an order, so a no whatever it forbids.
    ordered = ws[i] in ("don't", "dont") and (i == 0 or ws[i - 1] in _BREAKS | {"please"})
    for j in scope:
        cue = cues.get(j) or (_Cue(j, True, 1) if ws[j] == "work" else None)
        if ws[j] in _PROBLEMS and not ordered:
            cues[j] = _Cue(j, True, 1)  # "not a problem", "no trouble", "not bad"
            return
        if cue is not None and cue.says is not None:
            cues[j] = _Cue(j, not cue.says, 3 if cue.says else 1)  # "not right", "not wrong"
            return
    earlier = cues.get(i - 1)
    if ordered:
        cues[i] = _Cue(i, False, 3)
    elif earlier is not None and earlier.says and _ends_clause(ws, i + 1):
        del cues[i - 1]
        cues[i] = _Cue(i, False, 3)  # "absolutely not", "of course not"
    elif ws[i] != "no":
        cues[i] = _Cue(i, False, 2)  # "I'd rather not", "not really", "that's not it"


def _clauses(ws: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each clause: punctuation, a conjunction and a repair word end one."""
    spans, start = [], 0
    for i, word in enumerate(ws):
        if word in _BREAKS:
            if i > start:
                spans.append((start, i))
            start = i + 1
    if start < len(ws):
        spans.append((start, len(ws)))
    return spans


def _is_question(ws: list[str], start: int, end: int, cues: dict[int, _Cue]) -> bool:
    """Whether the clause asks something back ("what day was that", "is it at ten?").

    Answer words may lead it ("right, what day..."); "can you go ahead and book it?" is a
    request, answered by its own action, and "why not?" an answer."""
    if any(ws[j] == "why" and _NEGATOR.fullmatch(ws[j + 1]) for j in range(start, end - 1)):
        return False  # "why not?", "why don't you book it?": a yes or a suggestion
    head = start
    while head < end and (
        ws[head] in _FILLERS or ws[head] in _LEADERS or _answer_word(ws[head]) is not None
        or _OK.fullmatch(ws[head])
    ):  # fmt: skip
        head += 1
    first = ws[head] if head < end else ""
    second = ws[head + 1] if head + 1 < end else ""
    if first in _WH:
        return True
    asks = first in _AUX and second in _SUBJECTS and not (first == "do" and second in _OBJECTS)
    marked = end < len(ws) and ws[end] == "?"
    if (asks or marked) and first in _REQUESTS and second == "you":
        return not any(c.says and c.weight == 3 for j, c in cues.items() if head < j < end)
    return asks or marked


def polarity(text: str) -> bool | None:
    """True for a yes, False for a no, None for neither (see the module docstring).

    Args:
        text: a transcript of one caller turn.

    Returns:
        The answer, or None when the caller did not give one: no cue, a hedge, a question
        back, both at once, or a yes followed by a negated clause.
    """
    ws = words(text)
    cues = {i: cue for i in range(len(ws)) if (cue := _cue(ws, i)) is not None}
    for i, word in enumerate(ws):
        after = ws[i + 1] if i + 1 < len(ws) else ""
        if _NEGATOR.fullmatch(word) or (word == "no" and after in _PROBLEMS | _KNOWING):
            cues.pop(i, None)
            _negated(ws, i, cues)
    heard: list[tuple[int, int]] = []  # the clauses that answer or ask something
    for start, end in _clauses(ws):
        if _is_question(ws, start, end, cues):
            heard.append((start, end))
            for j in range(start, end):
                cues.pop(j, None)
        elif any(start <= j < end for j in cues):
            heard.append((start, end))
    if not cues or not any(heard[-1][0] <= j < heard[-1][1] for j in cues):
        return None  # nothing said, or the last thing said was a question back
    last = max(cues)
    if any(w in _HOLDS for w in ws[last + 1 :]):
        return None  # "yes, wait": still deciding
    # A correction ("yes, wait, no"): only what follows the last repair word stands, when an
    # answer follows it ("yes, sorry, I didn't hear the time" is not a no).
    answered = max((i for i, c in cues.items() if c.weight != 2), default=-1)
    repairs = [i for i, w in enumerate(ws) if w in _REPAIRS and i < answered]
    kept = sorted((c for c in cues.values() if not repairs or c.at > repairs[-1]), key=_at)
    answers = [c for c in kept if c.weight == 3]
    if answers:
        final = answers[-1]
        if len(answers) > 1 and final.says is not None and answers[-2].says == (not final.says):
            between = [w for w in ws[answers[-2].at + 1 : final.at] if w not in ",."]
            if between in (["and"], ["or"]):
                return None  # "yes and no"
        if final.says and any(c.weight == 2 and c.at > final.at for c in kept):
            return None  # "sure, I'd rather not": which one?
        return final.says
    if any(c.weight == 2 for c in kept):
        return False
    return True if kept else None


def _at(cue: _Cue) -> int:
    return cue.at

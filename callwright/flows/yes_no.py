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

from callwright.flows import yes_no_words as vocab

_TOKEN = re.compile(r"[a-z]+(?:['-][a-z]+)*|[,.;!?]")

_BREAKS = frozenset(",.;!?") | vocab.CONJUNCTIONS | vocab.REPAIRS


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
        if out and (pair := vocab.PAIRS.get((out[-1], word))):
            out[-1] = pair
        elif out and vocab.HUM_YES.fullmatch(f"{out[-1]}-{word}"):
            out[-1] = f"{out[-1]}-{word}"
        else:
            out.append(word)
    return out


def _answer_word(word: str) -> bool | None:
    if vocab.YES.fullmatch(word) or vocab.HUM_YES.fullmatch(word) or word in vocab.ASSENT:
        return True
    if vocab.NO.fullmatch(word) or vocab.HUM_NO.fullmatch(word) or word in vocab.DISSENT:
        return False
    return None


def _particle(word: str) -> bool:
    """A yes or no of its own ("yeah", "nope", "mm-hmm"): a clause by itself."""
    return any(p.fullmatch(word) for p in (vocab.YES, vocab.NO, vocab.HUM_YES, vocab.HUM_NO))


def _said_of_the_proposal(after: str) -> bool:
    """Whether a judgement ("fine", "right") ends its phrase, as in "that's fine" or "fine by
    me", rather than describing a noun after it ("the right time", "good morning")."""
    return (
        after in _BREAKS
        or after in vocab.PRONOUNS
        or after.endswith(("'s", "'ll", "'m", "'re", "'d"))  # "correct, that's me"
        or after in vocab.AFTER_JUDGEMENT
        or after in vocab.FILLERS
        or _answer_word(after) is not None
        or bool(vocab.OK.fullmatch(after))
    )


def _of_a_part(ws: list[str], i: int) -> bool:
    """Whether the judgement at `i` is said of one part of the proposal ("the doctor is
    right", "the time's fine"), not of all of it ("that's right", "sounds good")."""
    before = ws[i - 1] if i else ""
    if before == "be" and i > 1:  # "that would be great", "ten would be good"
        modal = ws[i - 2]
        subject = modal[:-2] if modal.endswith(("'d", "'ll")) else ws[i - 3] if i > 2 else ""
        subject = subject.rstrip("'")
    elif before in vocab.COPULAS:
        subject = ws[i - 2] if i > 1 else ""
    elif before.endswith("'s"):
        subject = before[:-2]
    else:
        return False
    return subject.isalpha() and not (
        subject in vocab.WHOLE or subject in vocab.FILLERS or _answer_word(subject) is not None
    )


def _ends_clause(ws: list[str], start: int) -> bool:
    """Whether nothing but fillers and thanks follows `start` in its clause."""
    for word in ws[start:]:
        if word in _BREAKS:
            return True
        if word not in vocab.FILLERS and word not in ("thanks", "please"):
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
    if word in vocab.HEDGES:
        return _Cue(i, None, 3)
    if word == "go" and after in ("ahead", "for", "with"):
        return _Cue(i, True, 3)
    if word in ("book", "confirm", "do") and (
        after in vocab.OBJECTS or after in _BREAKS or before == "please"
    ):
        return _Cue(i, True, 3)  # "book it", "please do", "I confirm"
    if word == "bet" and before == "you":
        return _Cue(i, True, 3)
    if word == "why" and vocab.NEGATOR.fullmatch(after) and _ends_clause(ws, i + 2):
        return _Cue(i, True, 3)  # "sure, why not": nothing against it ("why not Friday?" asks)
    if (word in vocab.ASSENT_ADJECTIVES or word in vocab.JUDGEMENTS) and _of_a_part(ws, i):
        return None
    if word in vocab.ASSENT_ADJECTIVES and _said_of_the_proposal(after):
        return _Cue(i, True, 3)
    if (word == "got" and after == "it") or (word in ("think", "guess", "hope") and after == "so"):
        return _Cue(i, True, 1)
    if word == "works" or (
        word == "work" and (before.endswith(("'ll", "'d")) or before in vocab.AUX)
    ):
        return _Cue(i, True, 1)  # "works for me", "that would work"
    if before in vocab.SELF:
        return None  # "I'm good", "I'm okay": how the caller is, not an answer
    if vocab.OK.fullmatch(word) or (word in vocab.JUDGEMENTS and _said_of_the_proposal(after)):
        return _Cue(i, True, 1)
    return None


def _negated(ws: list[str], i: int, cues: dict[int, _Cue]) -> None:
    """Apply the negator at `i` to what it negates, in `cues` (word position → cue)."""
    if i and ws[i - 1] == "why":
        return  # "why not", "why don't you": a suggestion (the "why" is the yes)
    scope = []
    for j in range(i + 1, min(i + 4, len(ws))):
        if (
            ws[j] in _BREAKS
            or ws[j] in vocab.WH
            or vocab.NEGATOR.fullmatch(ws[j])
            or _particle(ws[j])
        ):
            break
        scope.append(j)
    for j in scope:
        if ws[j] in vocab.KNOWING:
            cues[j] = _Cue(j, None, 3)  # "not sure", "I don't know", "no idea"
            return
        if ws[j] == "mind" and ws[i] != "never":
            cues[j] = _Cue(j, True, 1)  # "I don't mind" ("never mind" drops the matter)
            return
    # "Don't", "please don't bother": an order, so a no whatever it forbids.
    ordered = ws[i] in ("don't", "dont") and (i == 0 or ws[i - 1] in _BREAKS | {"please"})
    for j in scope:
        cue = cues.get(j) or (_Cue(j, True, 1) if ws[j] == "work" else None)
        if ws[j] in vocab.PROBLEMS and not ordered:
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
    if any(ws[j] == "why" and vocab.NEGATOR.fullmatch(ws[j + 1]) for j in range(start, end - 1)):
        return False  # "why not?", "why don't you book it?": a yes or a suggestion
    head = start
    while head < end and (
        ws[head] in vocab.FILLERS or ws[head] in vocab.LEADERS or _answer_word(ws[head]) is not None
        or vocab.OK.fullmatch(ws[head])
    ):  # fmt: skip
        head += 1
    first = ws[head] if head < end else ""
    second = ws[head + 1] if head + 1 < end else ""
    if first in vocab.WH:
        return True
    asks = (
        first in vocab.AUX
        and second in vocab.SUBJECTS
        and not (first == "do" and second in vocab.OBJECTS)
    )
    marked = end < len(ws) and ws[end] == "?"
    if (asks or marked) and first in vocab.REQUESTS and second == "you":
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
        if vocab.NEGATOR.fullmatch(word) or (
            word == "no" and after in vocab.PROBLEMS | vocab.KNOWING
        ):
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
    if any(w in vocab.HOLDS for w in ws[last + 1 :]):
        return None  # "yes, wait": still deciding
    # A correction ("yes, wait, no"): only what follows the last repair word stands, when an
    # answer follows it ("yes, sorry, I didn't hear the time" is not a no).
    answered = max((i for i, c in cues.items() if c.weight != 2), default=-1)
    repairs = [i for i, w in enumerate(ws) if w in vocab.REPAIRS and i < answered]
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

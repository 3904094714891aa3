"""A knowledge base the agent answers from, and only from.

Passages come from markdown files: each heading starts a passage, an optional
`Keywords:` line adds words callers use for it and an optional `Questions:` line two or three
questions callers ask for it, separated by "|" (both indexed, never spoken); the body is the
answer, written to be spoken.

Two scores are fused. The lexical one is SQLite FTS5 (BM25 ranks the candidates) and the
share of the question's informative words, weighted by IDF, that a passage covers. The
semantic one, when an embedder is given (`callwright.kb.embed`), is the best cosine between
the question and the passage or any of its example questions, so "where exactly are you
located" finds the address although it shares one word with it. The fused confidence decides:
at or above `threshold` the passage is the answer; between `clarify` and `threshold` the
caller is asked which of the two best passages they mean. Both are chosen on a labelled set by
`python -m callwright.kb.calibrate`, not by hand.
"""

from __future__ import annotations

import asyncio
import math
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from callwright.kb.embed import Embedder

STOPWORDS = frozenset(
    """a about an and any are as at be been but by can could do does did for from get got
    have has had hi hello how i i'd i'm if in is it it's just know let like me my need of
    on or our please so tell than thank thanks that the their them then there these this
    to too uh um us want wanted was we what what's when where which who why will with would
    you your you're yes no okay ok well also really much many some one could should might
    wondering question ask asking near nearby around here any anything something now wait
    stop hold sorry actually hey oh excuse hmm uh""".split()
)
# Spanish function words (accents folded, as the index folds them), so a Spanish knowledge
# folder is searched by its informative words too; none of them is an English word.
STOPWORDS |= frozenset(
    """el la los las un una unos unas de del al y o u en con sin por para que cual cuales
    quien como cuando donde cuanto cuanta cuantos es son esta estan ser estar hay tiene
    tienen tengo puedo puede pueden quiero quisiera queria saber me mi mis su sus lo le les
    se nos yo usted ustedes ellos este esta esto ese esa eso hola buenos buenas dias tardes
    gracias si muy mas tambien ya pero porque favor""".split()
)
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_KEYWORDS = re.compile(r"^keywords:\s*(.*)$", re.IGNORECASE)
_QUESTIONS = re.compile(r"^questions:\s*(.*)$", re.IGNORECASE)
# Fusion weights: meaning carries most of the decision; shared informative words confirm it.
_SEMANTIC_WEIGHT = 0.7
_TERM = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A short clause before the first comma that opens a sentence: "Hi,", "So,", "Okay then,",
# or a greeting the recogniser got wrong ("Bye,", "5,"). Its word changes the sentence's
# meaning vector and share of covered words although the question is all after it.
_OPENING = re.compile(r"^\s*[^\s,]+(?:\s+[^\s,]+)?\s*,\s*(?P<rest>\S+(?:\s+\S+){2,})$")


@dataclass(frozen=True, slots=True)
class Passage:
    """One answerable fact.

    Attributes:
        key: stable id: file stem and heading slug ("shop/opening-hours").
        title: the heading.
        text: the answer as it is spoken.
        keywords: extra words callers use for it.
        source: the file it came from.
        questions: example questions callers ask for it.
    """

    key: str
    title: str
    text: str
    keywords: str = ""
    source: str = ""
    questions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KbAnswer:
    """The best passage for a question and how sure the match is (0 to 1).

    Attributes:
        passage: the passage.
        confidence: the fused score.
        lexical: the share of informative words covered.
        semantic: the best cosine with the passage or its questions (0 without embedder).
    """

    passage: Passage
    confidence: float
    lexical: float = 0.0
    semantic: float = 0.0


@dataclass(frozen=True, slots=True)
class KbVerdict:
    """What to do with a question: answer it, ask which passage is meant, or neither.

    Attributes:
        answer: the passage to answer from.
        choices: two passages to ask between, when the best score is in the middle band.
        best: the best match found, whatever its score.
    """

    answer: KbAnswer | None = None
    choices: tuple[Passage, ...] = field(default_factory=tuple)
    best: KbAnswer | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_markdown(text: str, source: str = "") -> list[Passage]:
    """Cuts a markdown document into passages, one per heading."""
    passages: list[Passage] = []
    title: str | None = None
    body: list[str] = []
    keywords = ""
    questions: tuple[str, ...] = ()
    stem = Path(source).stem

    def close() -> None:
        spoken = " ".join(line.strip() for line in body if line.strip())
        if title is not None and spoken:
            key = f"{stem}/{_slug(title)}" if stem else _slug(title)
            passages.append(Passage(key, title, spoken, keywords, source, questions))

    for line in text.splitlines():
        if heading := _HEADING.match(line):
            close()
            title, body, keywords, questions = heading.group(1).strip(), [], "", ()
        elif kw := _KEYWORDS.match(line.strip()):
            keywords = kw.group(1).strip()
        elif qs := _QUESTIONS.match(line.strip()):
            questions = tuple(q.strip() for q in qs.group(1).split("|") if q.strip())
        elif title is not None:
            body.append(line)
    close()
    return passages


def load_passages(folder: Path) -> list[Passage]:
    """Every passage of every `.md` file in `folder` (recursively), in file order."""
    passages: list[Passage] = []
    for path in sorted(folder.rglob("*.md")):
        passages += parse_markdown(path.read_text(encoding="utf-8"), str(path))
    return passages


def query_terms(question: str) -> list[str]:
    """The informative words of a question, in order, without repeats."""
    seen: list[str] = []
    plain = unicodedata.normalize("NFD", question.lower().replace("’", "'").replace("'", ""))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    for term in _TERM.findall(plain):
        if term not in STOPWORDS and term not in seen and len(term) > 1:
            seen.append(term)
    return seen


def without_opening(sentence: str) -> str | None:
    """The sentence after a one- or two-word opening clause and its comma ("Hi, where are
    you?" → "where are you?"), when at least three words follow; else None."""
    found = _OPENING.match(sentence)
    return found["rest"] if found else None


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (split after ".", "!" or "?"), in order, without repeats."""
    return list(dict.fromkeys(p.strip() for p in _SENTENCE_END.split(text) if p.strip()))


def turn_sentences(turn: str) -> list[str]:
    """What a caller's turn is searched as besides the whole: its sentences and each one
    without a short opening clause (`without_opening`), in order, without repeats."""
    sentences = split_sentences(turn)
    sentences += [rest for s in sentences if (rest := without_opening(s))]
    return list(dict.fromkeys(sentences))


def embedded_texts(turn: str) -> list[str]:
    """The texts the knowledge base embeds for a turn (see `KnowledgeBase._search_turn`).

    Others that embed the same turn (`kb.urgency`) put these in their own batch, so that the
    embedder's memo serves the knowledge base and a turn costs one model call.
    """
    sentences = turn_sentences(turn)
    return sentences if len(sentences) > 1 else [turn]


class KnowledgeBase:
    """Passages indexed in an in-memory SQLite FTS5 table.

    Queries run on one worker thread that owns the connection, so the event loop never waits
    on SQLite.

    Args:
        passages: what the agent may say.
        threshold: confidence at or above which an answer may be spoken.
        generic: words that say nothing in this domain ("shop" for a shop), ignored in
            questions like stopwords.
        embedder: adds retrieval by meaning; None is words only.
        clarify: confidence from which the caller is asked which passage they mean (defaults
            to `threshold`: never ask).
    """

    def __init__(
        self,
        passages: Sequence[Passage],
        threshold: float = 0.5,
        generic: Iterable[str] = (),
        embedder: Embedder | None = None,
        clarify: float | None = None,
    ) -> None:
        self.passages = list(passages)
        self.threshold = threshold
        self.clarify = threshold if clarify is None else min(clarify, threshold)
        self.generic = frozenset(w.lower() for w in generic)
        self.embedder = embedder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb")
        self._db: sqlite3.Connection | None = None
        self._vectors = np.zeros((0, 0), np.float32)
        self._owners = np.zeros(0, np.int64)
        self._executor.submit(self._build).result()

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        threshold: float = 0.5,
        generic: Iterable[str] = (),
        embedder: Embedder | None = None,
        clarify: float | None = None,
    ) -> KnowledgeBase:
        """Loads every markdown file under `folder`."""
        return cls(load_passages(folder), threshold, generic, embedder, clarify)

    def _build(self) -> None:
        self._build_lexical()
        if self.embedder is not None and self.passages:
            # Each passage is found by its own text and by the questions callers ask for it.
            texts = [f"{p.title}. {p.text}" for p in self.passages]
            asked = [(i, q) for i, p in enumerate(self.passages) for q in p.questions]
            vectors = [self.embedder.embed(texts, "passage")]
            if asked:
                vectors.append(self.embedder.embed([q for _, q in asked], "query"))
            self._vectors = np.concatenate(vectors)
            self._owners = np.array([*range(len(texts)), *(i for i, _ in asked)], np.int64)

    def _semantic(self, questions: Sequence[str]) -> np.ndarray:
        """Per question and passage, the best cosine with the passage's vectors."""
        scores = np.zeros((len(questions), len(self.passages)), np.float32)
        if self.embedder is None or not len(self._owners):
            return scores
        # One batch: a turn of several sentences costs one model call, not one per sentence.
        cosines = self.embedder.embed(list(questions), "query") @ self._vectors.T
        for row, found in zip(scores, cosines, strict=True):
            np.maximum.at(row, self._owners, found)
        return scores

    def _build_lexical(self) -> None:
        db = sqlite3.connect(":memory:")
        db.execute(
            "CREATE VIRTUAL TABLE kb USING fts5(title, keywords, text, tokenize='porter unicode61')"
        )
        db.executemany(
            "INSERT INTO kb(rowid, title, keywords, text) VALUES (?, ?, ?, ?)",
            [
                (i, p.title, f"{p.keywords} {' '.join(p.questions)}", p.text)
                for i, p in enumerate(self.passages)
            ],
        )
        self._db = db

    def _rows_with(self, term: str) -> set[int]:
        assert self._db is not None
        rows = self._db.execute("SELECT rowid FROM kb WHERE kb MATCH ?", (f'"{term}"',))
        return {int(r[0]) for r in rows}

    def _lexical(self, question: str) -> dict[int, float]:
        """Per passage row with any informative word in common, the share of words covered."""
        assert self._db is not None
        terms = [t for t in query_terms(question) if t not in self.generic]
        if not terms or not self.passages:
            return {}
        n = len(self.passages)
        postings = {t: self._rows_with(t) for t in terms}
        idf = {t: math.log((n + 1) / (len(rows) + 0.5)) for t, rows in postings.items()}
        total = sum(idf.values())
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = self._db.execute(
            "SELECT rowid FROM kb WHERE kb MATCH ? ORDER BY bm25(kb, 2.0, 3.0, 1.0) LIMIT 10",
            (match,),
        ).fetchall()
        return {
            int(r[0]): sum(idf[t] for t in terms if int(r[0]) in postings[t]) / total
            if total > 0
            else 0.0
            for r in rows
        }

    def _search(self, question: str, limit: int) -> list[KbAnswer]:
        return self._search_all([question], limit)[0]

    def _search_all(self, questions: Sequence[str], limit: int) -> list[list[KbAnswer]]:
        semantic = self._semantic(questions) if self.embedder is not None else None
        return [self._rank(q, i, semantic, limit) for i, q in enumerate(questions)]

    def _search_turn(self, turn: str, sentences: Sequence[str], limit: int) -> list[KbAnswer]:
        """The best ranking of a whole turn or one of its sentences (see `judge`).

        With several sentences only they are embedded, and the turn's meaning is the best of
        theirs: the whole turn would cost one more model call and rarely means more.
        """
        texts = [turn, *sentences] if len(sentences) > 1 else [turn]
        semantic = None
        if self.embedder is not None:
            semantic = self._semantic(texts[1:] if len(texts) > 1 else texts)
            if len(texts) > 1:
                semantic = np.vstack([semantic.max(axis=0, keepdims=True), semantic])
        best: list[KbAnswer] = []
        for i, text in enumerate(texts):
            ranked = self._rank(text, i, semantic, limit)
            if ranked and (not best or ranked[0].confidence > best[0].confidence):
                best = ranked
        return best

    def _rank(
        self, question: str, index: int, semantic: np.ndarray | None, limit: int
    ) -> list[KbAnswer]:
        lexical = self._lexical(question)
        if semantic is None:
            ranked = sorted(lexical.items(), key=lambda rc: -rc[1])  # stable: BM25 order
            return [
                KbAnswer(self.passages[r], round(c, 3), lexical=round(c, 3))
                for r, c in ranked[:limit]
            ]
        meaning = semantic[index]
        fused = [
            (
                _SEMANTIC_WEIGHT * float(meaning[i]) + (1 - _SEMANTIC_WEIGHT) * lexical.get(i, 0.0),
                i,
            )
            for i in range(len(self.passages))
        ]
        fused.sort(key=lambda fi: -fi[0])
        return [
            KbAnswer(
                self.passages[i],
                round(f, 3),
                lexical=round(lexical.get(i, 0.0), 3),
                semantic=round(float(meaning[i]), 3),
            )
            for f, i in fused[:limit]
        ]

    async def search(self, question: str, limit: int = 3) -> list[KbAnswer]:
        """The best passages for `question`, most confident first."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._search, question, limit)

    async def answer(self, question: str) -> KbAnswer | None:
        """The passage to answer from, or None when nothing is confident enough."""
        return (await self.judge(question)).answer

    async def rank(self, question: str, limit: int = 2) -> list[KbAnswer]:
        """The best passages for a caller's turn, whole or one of its sentences (as `judge`)."""
        sentences = turn_sentences(question)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._search_turn, question, sentences, limit
        )

    async def judge(self, question: str) -> KbVerdict:
        """Answer, ask which of two passages is meant, or neither (see the module doc).

        Each sentence is also tried alone: in "Wait, stop! What is your address?" the first
        sentence is not part of the question; and without a short opening clause
        (`without_opening`): "Bye, where exactly are you located?" (a misheard "Hi") is the
        address question. Each variant can only raise the best score, and only where it
        means more than the whole turn did.
        """
        found = await self.rank(question)
        if not found:
            return KbVerdict()
        best = found[0]
        if best.confidence >= self.threshold:
            return KbVerdict(answer=best, best=best)
        if best.confidence >= self.clarify and len(found) > 1:
            return KbVerdict(choices=(best.passage, found[1].passage), best=best)
        return KbVerdict(best=best)

    async def pick(self, reply: str, choices: Sequence[Passage]) -> Passage | None:
        """Which of `choices` the caller's `reply` to "do you mean A or B?" names, if either."""
        ranked = await self.search(reply, len(self.passages))
        scores = {a.passage.key: a.confidence for a in ranked}
        mine = sorted(((scores.get(p.key, 0.0), p) for p in choices), key=lambda sp: -sp[0])
        if len(mine) > 1 and mine[0][0] - mine[1][0] < 0.02:
            return None
        return mine[0][1] if mine and mine[0][0] > 0 else None

    def close(self) -> None:
        """Stops the worker thread."""
        self._executor.shutdown(wait=False)

    def topic_names(self) -> list[str]:
        """Passage titles of two words or more, as a vocabulary to respell questions with.

        Callers name a topic by its title ("opening hours"), and the recogniser mishears it
        ("opening errors"); matched by sound against a two-word title, the words around the
        mishearing anchor it. One-word titles are left out: a single word sounds like too many
        others ("bring my" like "parking").
        """
        return list(dict.fromkeys(p.title for p in self.passages if len(p.title.split()) > 1))

    def phrases(self) -> Iterable[str]:
        """Every answer text, for pre-synthesis."""
        return (p.text for p in self.passages)

"""A knowledge base the agent answers from, and only from.

Passages come from markdown files: each heading starts a passage, an optional
`Keywords:` line adds words callers use for it (indexed, never spoken), and the body is the
answer, written to be spoken. Retrieval is SQLite FTS5 with BM25 ranking; the confidence of
an answer is the share of the question's informative words (weighted by IDF) that the passage
covers, so a question about something the business never wrote down scores low even when a
passage shares one common word with it.
"""

from __future__ import annotations

import asyncio
import math
import re
import sqlite3
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

STOPWORDS = frozenset(
    """a about an and any are as at be been but by can could do does did for from get got
    have has had hi hello how i i'd i'm if in is it it's just know let like me my need of
    on or our please so tell than thank thanks that the their them then there these this
    to too uh um us want wanted was we what what's when where which who why will with would
    you your you're yes no okay ok well also really much many some one could should might
    wondering question ask asking near nearby around here any anything something now wait
    stop hold sorry actually hey oh excuse hmm uh""".split()
)
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_KEYWORDS = re.compile(r"^keywords:\s*(.*)$", re.IGNORECASE)
_TERM = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Passage:
    """One answerable fact.

    Attributes:
        key: stable id: file stem and heading slug ("shop/opening-hours").
        title: the heading.
        text: the answer as it is spoken.
        keywords: extra words callers use for it.
        source: the file it came from.
    """

    key: str
    title: str
    text: str
    keywords: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class KbAnswer:
    """The best passage for a question and how sure the match is (0 to 1)."""

    passage: Passage
    confidence: float


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_markdown(text: str, source: str = "") -> list[Passage]:
    """Cuts a markdown document into passages, one per heading."""
    passages: list[Passage] = []
    title: str | None = None
    body: list[str] = []
    keywords = ""
    stem = Path(source).stem

    def close() -> None:
        spoken = " ".join(line.strip() for line in body if line.strip())
        if title is not None and spoken:
            key = f"{stem}/{_slug(title)}" if stem else _slug(title)
            passages.append(Passage(key, title, spoken, keywords, source))

    for line in text.splitlines():
        if heading := _HEADING.match(line):
            close()
            title, body, keywords = heading.group(1).strip(), [], ""
        elif kw := _KEYWORDS.match(line.strip()):
            keywords = kw.group(1).strip()
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
    for term in _TERM.findall(question.lower().replace("’", "'").replace("'", "")):
        if term not in STOPWORDS and term not in seen and len(term) > 1:
            seen.append(term)
    return seen


class KnowledgeBase:
    """Passages indexed in an in-memory SQLite FTS5 table.

    Queries run on one worker thread that owns the connection, so the event loop never waits
    on SQLite.

    Args:
        passages: what the agent may say.
        threshold: confidence at or above which an answer may be spoken.
        generic: words that say nothing in this domain ("shop" for a shop), ignored in
            questions like stopwords.
    """

    def __init__(
        self, passages: Sequence[Passage], threshold: float = 0.5, generic: Iterable[str] = ()
    ) -> None:
        self.passages = list(passages)
        self.threshold = threshold
        self.generic = frozenset(w.lower() for w in generic)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb")
        self._db: sqlite3.Connection | None = None
        self._executor.submit(self._build).result()

    @classmethod
    def from_folder(
        cls, folder: Path, threshold: float = 0.5, generic: Iterable[str] = ()
    ) -> KnowledgeBase:
        """Loads every markdown file under `folder`."""
        return cls(load_passages(folder), threshold, generic)

    def _build(self) -> None:
        db = sqlite3.connect(":memory:")
        db.execute(
            "CREATE VIRTUAL TABLE kb USING fts5(title, keywords, text, tokenize='porter unicode61')"
        )
        db.executemany(
            "INSERT INTO kb(rowid, title, keywords, text) VALUES (?, ?, ?, ?)",
            [(i, p.title, p.keywords, p.text) for i, p in enumerate(self.passages)],
        )
        self._db = db

    def _rows_with(self, term: str) -> set[int]:
        assert self._db is not None
        rows = self._db.execute("SELECT rowid FROM kb WHERE kb MATCH ?", (f'"{term}"',))
        return {int(r[0]) for r in rows}

    def _search(self, question: str, limit: int) -> list[KbAnswer]:
        assert self._db is not None
        terms = [t for t in query_terms(question) if t not in self.generic]
        if not terms or not self.passages:
            return []
        n = len(self.passages)
        postings = {t: self._rows_with(t) for t in terms}
        idf = {t: math.log((n + 1) / (len(rows) + 0.5)) for t, rows in postings.items()}
        total = sum(idf.values())
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = self._db.execute(
            "SELECT rowid, bm25(kb, 2.0, 3.0, 1.0) AS rank FROM kb WHERE kb MATCH ? "
            "ORDER BY rank LIMIT ?",
            (match, max(limit, 5)),
        ).fetchall()
        answers: list[tuple[float, float, int]] = []
        for rowid, rank in rows:
            covered = sum(idf[t] for t in terms if rowid in postings[t])
            answers.append((covered / total if total > 0 else 0.0, -float(rank), int(rowid)))
        answers.sort(reverse=True)
        return [KbAnswer(self.passages[r], round(c, 3)) for c, _, r in answers[:limit]]

    async def search(self, question: str, limit: int = 3) -> list[KbAnswer]:
        """The best passages for `question`, most confident first."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._search, question, limit)

    async def answer(self, question: str) -> KbAnswer | None:
        """The passage to answer from, or None when nothing is confident enough.

        Each sentence is also tried alone: in "Wait, stop! What is your address?" the first
        sentence is not part of the question.
        """
        parts = [question, *(p for p in _SENTENCE_END.split(question) if p.strip())]
        best: KbAnswer | None = None
        for part in dict.fromkeys(parts):
            found = await self.search(part, 1)
            if found and (best is None or found[0].confidence > best.confidence):
                best = found[0]
        if best is not None and best.confidence >= self.threshold:
            return best
        return None

    def close(self) -> None:
        """Stops the worker thread."""
        self._executor.shutdown(wait=False)

    def phrases(self) -> Iterable[str]:
        """Every answer text, for pre-synthesis."""
        return (p.text for p in self.passages)

"""Knowledge base: a folder of markdown files, retrieved with SQLite FTS5 (BM25)."""

from callwright.kb.base import KbAnswer, KnowledgeBase, Passage, load_passages

__all__ = ["KbAnswer", "KnowledgeBase", "Passage", "load_passages"]

"""Knowledge base: markdown passages, retrieved by words (SQLite FTS5, BM25) and by meaning."""

from callwright.kb.base import KbAnswer, KbVerdict, KnowledgeBase, Passage, load_passages

__all__ = ["KbAnswer", "KbVerdict", "KnowledgeBase", "Passage", "load_passages"]

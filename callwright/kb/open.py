"""Opening an agent's knowledge base: retrieval by meaning, with calibrated thresholds.

Every agent opens its knowledge folder the same way, the generic responder and custom code
alike. The sentence embedder is the process's shared one (`kb.embed.shared_embedder`, loaded
once and shared by every agent and call); when it is not installed the knowledge base falls
back to words only, with a warning. The answer and clarify thresholds come from, in order:
the agent's own values; the calibration file `kb_thresholds.json` in the knowledge folder,
written by `python -m callwright.kb.calibrate ... --write FOLDER/kb_thresholds.json` (used only
when it was calibrated with the same embedder); else 0.5 and no clarify band.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from callwright.kb.base import KnowledgeBase
from callwright.kb.embed import shared_embedder

log = logging.getLogger(__name__)

CALIBRATION_FILE = "kb_thresholds.json"
DEFAULT_THRESHOLD = 0.5


def calibrated_thresholds(folder: Path, embedder: str) -> tuple[float, float] | None:
    """(answer, clarify) from the folder's calibration file, if made with `embedder`."""
    path = folder / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        if values.get("embedder") != embedder:
            log.warning("%s was calibrated with another embedder: ignored", path)
            return None
        return float(values["threshold"]), float(values["clarify"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a calibration file ({exc})") from exc


async def open_knowledge(
    folder: Path,
    threshold: float | None = None,
    clarify: float | None = None,
    generic: Iterable[str] = (),
    embedder: str | None = "minilm-l6",
) -> KnowledgeBase:
    """Loads the knowledge base in `folder` off the event loop (see the module docstring).

    Args:
        folder: markdown files, and optionally the calibration file.
        threshold: confidence needed to answer; None: calibrated, else 0.5.
        clarify: confidence from which the caller is asked which passage they mean.
        generic: words that say nothing in this domain ("shop" for a shop).
        embedder: "minilm-l6", "e5-small", or None for words only.
    """
    loaded = None
    if embedder is not None:
        loaded = await asyncio.to_thread(shared_embedder, embedder)
        if loaded is None:
            log.warning("embedder %s not installed: knowledge base by words only", embedder)
    answer, band = DEFAULT_THRESHOLD, None
    if threshold is not None:
        answer, band = threshold, clarify
    elif loaded is not None and (found := calibrated_thresholds(folder, loaded.name)):
        answer, band = found
    elif clarify is not None:
        band = clarify
    words = tuple(generic)
    return await asyncio.to_thread(KnowledgeBase.from_folder, folder, answer, words, loaded, band)

"""Where a simulated pause was cut into a line, kept on disk between runs.

Placing one cut runs the recogniser on both sides of up to four candidate points (eight
passes) and synthesizes the words before the pause a second time; a benchmark that speaks the
same lines in the same voices every run pays that again and again on a shared machine. The
cut depends only on the audio, the words and the recogniser, so it is stored under a digest of
those three (and of this placement's version): a different voice, text, synthesizer release
or recogniser gives a different key, never a stale cut.

`CALLWRIGHT_PAUSE_CUTS` names the folder ("off" turns the cache off); the default is
`$XDG_CACHE_HOME/callwright/pause-cuts` (`~/.cache/...`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from callwright.stt.base import SpeechToText

# Bump when the placement in `sim/pausing.py` changes what it picks.
PLACEMENT_VERSION = 1


def cache_dir() -> Path | None:
    """The cache's folder, or None when it is turned off."""
    configured = os.environ.get("CALLWRIGHT_PAUSE_CUTS", "")
    if configured.lower() in ("off", "0", "no"):
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callwright" / "pause-cuts"


def engine_label(stt: SpeechToText) -> str:
    """The recogniser and the versions of what runs it (another release may hear differently)."""
    parts = [stt.name]
    for module in ("faster_whisper", "ctranslate2"):
        try:
            parts.append(f"{module}={__import__(module).__version__}")
        except ImportError:
            continue
    return " ".join(parts)


def cut_key(audio: np.ndarray, rate: int, text: str, engine: str) -> str:
    """A digest of everything the cut depends on."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(audio).tobytes())
    digest.update(f"\0{rate}\0{text}\0{engine}\0{PLACEMENT_VERSION}".encode())
    return digest.hexdigest()


async def load_cuts(key: str) -> list[int] | None:
    """The stored cut points for `key`, or None."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{key}.json"

    def read() -> list[int] | None:
        try:
            points = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(points, list) and all(isinstance(p, int) for p in points):
            return points
        return None

    return await asyncio.to_thread(read)


async def store_cuts(key: str, points: Sequence[int]) -> None:
    """Stores the cut points for `key` (best effort: a read-only disk only costs time)."""
    folder = cache_dir()
    if folder is None:
        return

    def write() -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f"{key}.{os.getpid()}.tmp"
            temporary.write_text(json.dumps([int(p) for p in points]))
            temporary.replace(folder / f"{key}.json")  # atomic: a reader sees all or nothing
        except OSError:
            return

    await asyncio.to_thread(write)

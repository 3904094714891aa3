"""Silero VAD (v5 ONNX) run with onnxruntime, one shared session for every call."""

from __future__ import annotations

import asyncio
import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from callwright.vad.base import VadWindow

# Silero only knows these two rates; each has a fixed window and a context it prepends.
_WINDOW_SAMPLES = {16000: 512, 8000: 256}
_CONTEXT_SAMPLES = {16000: 64, 8000: 32}
_STATE_SHAPE = (2, 1, 128)


def silero_onnx_path() -> Path:
    """Locates `silero_vad.onnx` inside the installed `silero-vad` package.

    The package is found without importing it: importing it imports torch, which this runtime
    neither needs nor installs.

    Raises:
        RuntimeError: the package or its ONNX file is missing.
    """
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "Silero VAD needs the 'silero-vad' package (install it with --no-deps; torch is "
            "not required)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise RuntimeError(f"The silero-vad package has no ONNX model at {path}")
    return path


class SileroVadModel:
    """The loaded Silero model, shared by all calls of the process.

    One onnxruntime session serves every stream (`InferenceSession.run` is thread-safe); each
    stream keeps its own recurrent state. Inference runs on a small executor the model owns.
    """

    def __init__(self, session: ort.InferenceSession, executor: ThreadPoolExecutor) -> None:
        self._session = session
        self._executor = executor

    @classmethod
    def load(cls, num_threads: int = 1, model_path: Path | None = None) -> SileroVadModel:
        """Creates the shared session and executor.

        Args:
            num_threads: worker threads of the executor, i.e. how many windows of different
                calls can be evaluated at once. Each evaluation itself uses one thread, because
                a 32 ms window is far too small to gain from intra-op parallelism.
            model_path: an ONNX file to use instead of the packaged one.
        """
        if num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(model_path or silero_onnx_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        executor = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="silero-vad")
        return cls(session, executor)

    def open_stream(self, sample_rate: int = 16000) -> SileroVadStream:
        """Returns fresh per-call state at `sample_rate` (8000 or 16000 Hz)."""
        return SileroVadStream(self, sample_rate)

    def close(self) -> None:
        """Stops the executor; streams of this model must not be used afterwards."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run_windows(
        self,
        windows: np.ndarray,
        context: np.ndarray,
        state: np.ndarray,
        sample_rate: int,
    ) -> tuple[list[float], np.ndarray, np.ndarray]:
        """Evaluates consecutive windows in order; runs on the executor.

        Args:
            windows: float32 array of shape (n, window).
            context: the last context samples before the first window.
            state: recurrent state before the first window.
            sample_rate: 8000 or 16000.

        Returns:
            The probability of each window, the context and the state after the last one.
        """
        sr = np.array(sample_rate, dtype=np.int64)
        context_size = context.shape[0]
        probabilities: list[float] = []
        for window in windows:
            model_input = np.concatenate((context, window))[np.newaxis, :]
            output, state = self._session.run(
                None, {"input": model_input, "state": state, "sr": sr}
            )
            probabilities.append(float(output[0, 0]))
            context = window[-context_size:]
        return probabilities, context, state

    async def _evaluate(
        self, windows: np.ndarray, context: np.ndarray, state: np.ndarray, sample_rate: int
    ) -> tuple[list[float], np.ndarray, np.ndarray]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._run_windows, windows, context, state, sample_rate
        )


class SileroVadStream:
    """Per-call Silero state: recurrent state, context, leftover samples and the timeline.

    Window times come from the stream's own sample counter, anchored at the timestamp of the
    first chunk, so chunk timestamps with jitter do not make windows overlap or drift. A chunk
    starting more than one window after the expected time (a gap in the audio) re-anchors the
    counter there; the leftover samples from before the gap are dropped, since a window
    spanning the gap would describe audio that never played in that order.
    """

    def __init__(self, model: SileroVadModel, sample_rate: int = 16000) -> None:
        if sample_rate not in _WINDOW_SAMPLES:
            raise ValueError(f"Silero VAD supports 8000 and 16000 Hz, got {sample_rate}")
        self.sample_rate = sample_rate
        self._model = model
        self._window = _WINDOW_SAMPLES[sample_rate]
        self._context_size = _CONTEXT_SAMPLES[sample_rate]
        # Serialises process() calls of this stream: each one needs the state of the previous.
        self._lock = asyncio.Lock()
        self._generation = 0
        self.reset()

    @property
    def window_ms(self) -> float:
        """Length of one analysis window."""
        return 1000.0 * self._window / self.sample_rate

    def reset(self) -> None:
        """Forgets the recurrent state, buffered samples and the timeline anchor."""
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(self._context_size, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._anchor_ms: float | None = None
        # Samples received since the anchor, buffered ones included.
        self._received = 0
        # Lets a process() in flight know that its results belong to a forgotten state.
        self._generation += 1

    async def process(self, samples: np.ndarray, timestamp_ms: float) -> list[VadWindow]:
        """Consumes int16 samples at `sample_rate` starting at `timestamp_ms`.

        All windows completed by the chunk are evaluated in one executor hop.

        Returns:
            The windows completed by this chunk (possibly none), in order.
        """
        audio = _to_float32(samples)
        async with self._lock:
            self._place(timestamp_ms)
            first_sample = self._received - self._pending.shape[0]
            self._received += audio.shape[0]
            buffered = np.concatenate((self._pending, audio)) if self._pending.size else audio
            count = buffered.shape[0] // self._window
            self._pending = buffered[count * self._window :].copy()
            if count == 0:
                return []
            windows = buffered[: count * self._window].reshape(count, self._window)
            anchor = timestamp_ms if self._anchor_ms is None else self._anchor_ms
            generation = self._generation
            probabilities, context, state = await self._model._evaluate(
                windows, self._context, self._state, self.sample_rate
            )
            if generation == self._generation:
                self._context, self._state = context, state
            return [
                VadWindow(
                    start_ms=anchor + self._ms(first_sample + i * self._window),
                    end_ms=anchor + self._ms(first_sample + (i + 1) * self._window),
                    probability=p,
                )
                for i, p in enumerate(probabilities)
            ]

    def _place(self, timestamp_ms: float) -> None:
        """Anchors the timeline on the first chunk and re-anchors it after a gap."""
        if self._anchor_ms is None:
            self._anchor_ms = timestamp_ms
            self._received = 0
            return
        expected_ms = self._anchor_ms + self._ms(self._received)
        if timestamp_ms > expected_ms + self.window_ms:
            self._anchor_ms = timestamp_ms
            self._received = 0
            self._pending = np.zeros(0, dtype=np.float32)

    def _ms(self, num_samples: int) -> float:
        return 1000.0 * num_samples / self.sample_rate


def _to_float32(samples: np.ndarray) -> np.ndarray:
    """Scales int16 samples to [-1, 1) float32; float input is taken as already scaled."""
    samples = np.asarray(samples).reshape(-1)
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32, copy=False)
    return samples.astype(np.float32) / 32768.0

"""Silero VAD (v5 ONNX) run with onnxruntime, one shared session for every call."""

from __future__ import annotations

import asyncio
import importlib.util
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class _Request:
    """One stream's windows waiting for the next batch."""

    windows: np.ndarray
    context: np.ndarray
    state: np.ndarray
    sample_rate: int
    future: asyncio.Future[tuple[list[float], np.ndarray, np.ndarray]]


class SileroVadModel:
    """The loaded Silero model, shared by all calls of the process.

    One onnxruntime session serves every stream; each stream keeps its own recurrent state.
    Windows of all calls are batched: a stream's request joins a queue, and one task on the
    loop runs everything queued in one executor hop, one ONNX run per round (the batch
    dimension holds one row per call; a call with two windows in the queue gets a second
    round, since each window needs the state the previous one left). With one call nothing
    waits; under load, requests gather while the previous batch runs, so the loop makes one
    executor hop per batch instead of one per call and frame, and ONNX runs once for many
    windows.
    """

    def __init__(self, session: ort.InferenceSession, executor: ThreadPoolExecutor) -> None:
        self._session = session
        self._executor = executor
        # A queue and its draining task per event loop: a model may outlive a loop (tests) or
        # serve loops in several threads, and a future belongs to the loop it was made on.
        self._batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBatches] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def load(cls, num_threads: int = 1, model_path: Path | None = None) -> SileroVadModel:
        """Creates the shared session and executor.

        Args:
            num_threads: worker threads of the executor. Batches run one at a time, so one
                is enough; more let an occasional direct `_run_windows` run beside a batch.
                Each ONNX run itself uses one thread: a batch of 32 ms windows is still too
                small to gain from intra-op parallelism.
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
        """Evaluates one stream's consecutive windows in order (a batch of one)."""
        return self._run_batch([(windows, context, state, sample_rate)])[0]

    def _run_batch(
        self, requests: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]
    ) -> list[tuple[list[float], np.ndarray, np.ndarray]]:
        """Evaluates several streams' windows, batched across streams; runs on the executor.

        Args:
            requests: per stream, (windows of shape (n, window), the context before the first
                window, the recurrent state before it, the sample rate).

        Returns:
            Per stream, in order: each window's probability, the context and the state after
            its last window.
        """
        results: list[tuple[list[float], np.ndarray, np.ndarray]] = [
            ([], context, state) for _, context, state, _ in requests
        ]
        for rate in {r[3] for r in requests}:
            members = [i for i, r in enumerate(requests) if r[3] == rate]
            sr = np.array(rate, dtype=np.int64)
            rounds = max(requests[i][0].shape[0] for i in members)
            for k in range(rounds):
                rows = [i for i in members if requests[i][0].shape[0] > k]
                model_input = np.stack(
                    [np.concatenate((results[i][1], requests[i][0][k])) for i in rows]
                )
                state = np.concatenate([results[i][2] for i in rows], axis=1)
                output, state_after = self._session.run(
                    None, {"input": model_input, "state": state, "sr": sr}
                )
                for row, i in enumerate(rows):
                    probabilities, context, _ = results[i]
                    probabilities.append(float(output[row, 0]))
                    window = requests[i][0][k]
                    results[i] = (
                        probabilities,
                        window[-context.shape[0] :].copy(),
                        state_after[:, row : row + 1, :].copy(),
                    )
        return results

    async def _evaluate(
        self, windows: np.ndarray, context: np.ndarray, state: np.ndarray, sample_rate: int
    ) -> tuple[list[float], np.ndarray, np.ndarray]:
        loop = asyncio.get_running_loop()
        batches = self._batches.get(loop)
        if batches is None:
            batches = self._batches[loop] = _LoopBatches()
        future: asyncio.Future[tuple[list[float], np.ndarray, np.ndarray]] = loop.create_future()
        batches.queue.append(_Request(windows, context, state, sample_rate, future))
        if batches.drainer is None or batches.drainer.done():
            batches.drainer = loop.create_task(self._drain(batches), name="silero-vad-batches")
        return await future

    async def _drain(self, batches: _LoopBatches) -> None:
        """Runs queued requests in batches until the queue is empty."""
        loop = asyncio.get_running_loop()
        while batches.queue:
            batch, batches.queue = batches.queue, []
            jobs = [(r.windows, r.context, r.state, r.sample_rate) for r in batch]
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, jobs)
            except Exception as exc:  # every caller in the batch hears of it
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            for request, result in zip(batch, results, strict=True):
                if not request.future.done():  # a cancelled call no longer waits
                    request.future.set_result(result)


@dataclass(slots=True)
class _LoopBatches:
    """The requests waiting on one event loop, and the task that runs them."""

    queue: list[_Request] = field(default_factory=list)
    drainer: asyncio.Task[None] | None = None


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

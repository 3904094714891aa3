"""Smart Turn v3.2: an audio model of whether the speaker has finished their turn.

The model (BSD-2-Clause, by Daily) ships as an ONNX file inside the `pipecat-ai` wheel, which
the project installs without its dependencies; Pipecat itself is never imported. It takes
Whisper-style log-mel features (80 mels x 800 frames of 10 ms) of the last 8 s of 16 kHz audio
and gives the probability that the turn is over. The features are computed here, in numpy.

It is an optional signal: `SmartTurn.load()` returns None when the file is not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
WINDOW_S = 8
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 80
MODEL_FILE = "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"


def model_path() -> Path | None:
    """The ONNX file inside the installed `pipecat-ai` wheel, found without importing it."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    return path if path.is_file() else None


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear to 1 kHz, logarithmic above (as Whisper's filters)."""
    mel = 3.0 * hz / 200.0
    log_part = hz >= 1000.0
    mel[log_part] = 15.0 + np.log(hz[log_part] / 1000.0) * (27.0 / np.log(6.4))
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    hz = 200.0 * mel / 3.0
    log_part = mel >= 15.0
    hz[log_part] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel[log_part] - 15.0))
    return hz


def _mel_filters() -> np.ndarray:
    """Slaney-normalised triangular filters, shape (N_MELS, N_FFT // 2 + 1)."""
    bins = np.linspace(0.0, SAMPLE_RATE / 2.0, N_FFT // 2 + 1)
    edges_mel = np.linspace(
        _hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([SAMPLE_RATE / 2.0]))[0], N_MELS + 2
    )
    edges = _mel_to_hz(edges_mel)
    widths = np.diff(edges)
    slopes = edges[:, None] - bins[None, :]
    rising = -slopes[:-2] / widths[:-1, None]
    falling = slopes[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[:, None]


_FILTERS = _mel_filters()
_WINDOW = np.hanning(N_FFT + 1)[:-1]  # periodic Hann, as torch.hann_window


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Whisper's log-mel features of the last 8 s of `audio` (float, 16 kHz), (80, 800).

    Shorter audio is padded with silence in front, so the end of speech stays at the end.
    """
    n = SAMPLE_RATE * WINDOW_S
    x = np.asarray(audio, dtype=np.float32)[-n:]
    x = np.pad(x, (n - x.size, 0))
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)  # the feature extractor's do_normalize
    padded = np.pad(x.astype(np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2  # (801, 201)
    mel = _FILTERS @ power[:-1].T  # Whisper drops the last frame: (80, 800)
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    return ((logs + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """The loaded model; one per process, shared by calls (onnxruntime sessions are)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # two cores, shared with Whisper and the calls
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    @classmethod
    def load(cls) -> SmartTurn | None:
        """The model from the installed wheel, or None (logged) when it is not there."""
        path = model_path()
        if path is None:
            log.info("Smart Turn model not installed (pipecat-ai wheel): prosody signal off")
            return None
        return cls(path)

    def probability(self, samples: np.ndarray) -> float:
        """Probability that the speaker has finished, from 16 kHz audio (int16 or float)."""
        audio = samples.astype(np.float32)
        if samples.dtype == np.int16:
            audio /= 32768.0
        features = log_mel(audio)[None, :, :]
        (logits,) = self._session.run(None, {self._input: features})
        return float(np.asarray(logits).reshape(-1)[0])

    async def probability_async(self, samples: np.ndarray) -> float:
        """`probability` off the event loop."""
        return await asyncio.to_thread(self.probability, samples)

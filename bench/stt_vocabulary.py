"""Does biasing Whisper with the agent's vocabulary help? Names heard right, with and without.

Each caller line is synthesized with flite voices and Festival's HTS voice (Debian `flite`,
`festival`, `festvox-us-slt-hts`), sent through an 8 kHz µ-law phone line, transcribed by the
embedded Whisper tiny.en with no vocabulary and with the clinic's vocabulary, and checked for
the name or term it contains. In the speech-window decoder `hotwords` and `initial_prompt`
are the same thing (the previous-text prompt), so one biased run covers both.

    python bench/stt_vocabulary.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callwright.audio.mulaw import mulaw_decode, mulaw_encode  # noqa: E402
from callwright.audio.resample import resample  # noqa: E402
from callwright.audio.wav import read_wav  # noqa: E402
from callwright.stt.whisper import WhisperOptions, WhisperStt  # noqa: E402

DOCTORS = ["Doctor Patel", "Doctor Nguyen", "Doctor Park", "Doctor Lopez"]
INSURERS = ["Aetna", "Cigna", "Blue Cross", "Medicare"]
# What the clinic biases with (ClinicResponderFactory.vocabulary), and that plus insurers.
VOCABULARIES = {
    "none": [],
    "doctors + clinic": [*DOCTORS, "Maple Street Clinic"],
    "+ insurers": [*DOCTORS, "Maple Street Clinic", *INSURERS],
}
# (what the caller says, the word that must come back)
LINES = [
    ("I'd like to make an appointment with Doctor Nguyen.", "nguyen"),
    ("Can I see Doctor Nguyen on Friday?", "nguyen"),
    ("I would like to book with Doctor Patel please.", "patel"),
    ("Is Doctor Patel free on Tuesday?", "patel"),
    ("Do you take Aetna?", "aetna"),
    ("I have Cigna insurance.", "cigna"),
    ("Book me in with Doctor Lopez.", "lopez"),
    ("My son needs to see Doctor Park.", "park"),
    ("Thursday, December tenth at ten in the morning.", "december"),
    ("My name is John Smith.", "smith"),
]
VOICES = ["flite:slt", "flite:rms", "flite:awb", "flite:kal", "festival:slt_hts"]


def synthesize(voice: str, text: str) -> tuple[np.ndarray, int]:
    engine, name = voice.split(":")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "x.wav"
        if engine == "flite":
            subprocess.run(["flite", "-voice", name, "-t", text, "-o", str(out)], check=True)
        else:
            subprocess.run(
                ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-o", str(out)],
                input=text.encode(),
                check=True,
            )
        samples, rate = read_wav(out)
    return samples, rate


def phone_line(samples: np.ndarray, rate: int) -> np.ndarray:
    """8 kHz µ-law and back to 16 kHz, as a Twilio media stream delivers it."""
    narrow = resample(samples, rate, 8000)
    return resample(mulaw_decode(mulaw_encode(narrow)), 8000, 16000)


async def main() -> None:
    stt = WhisperStt.load(WhisperOptions())
    clips = [
        (voice, text, word, phone_line(*synthesize(voice, text)))
        for voice in VOICES
        for text, word in LINES
    ]
    print(f"{len(clips)} clips: {len(VOICES)} voices x {len(LINES)} lines, 8 kHz µ-law")
    for label, vocabulary in VOCABULARIES.items():
        stt.set_vocabulary(vocabulary)
        hits, times, misses = 0, [], []
        for voice, _text, word, audio in clips:
            started = time.perf_counter()
            heard = (await stt.transcribe(audio)).text
            times.append(1000 * (time.perf_counter() - started))
            if word in heard.lower():
                hits += 1
            else:
                misses.append(f"{voice}: {heard}")
        times.sort()
        print(
            f"{label:18} right {hits}/{len(clips)}  "
            f"p50 {times[len(times) // 2]:.0f} ms  p95 {times[int(len(times) * 0.95)]:.0f} ms"
        )
        if "-v" in sys.argv:
            for miss in misses:
                print(f"    missed: {miss}")
    stt.close()


if __name__ == "__main__":
    asyncio.run(main())

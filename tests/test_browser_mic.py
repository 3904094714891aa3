"""The talk page's microphone resampler, run by Chromium's own AudioWorklet on pure tones.

The worklet turns the device rate (48 kHz, 44.1 kHz, ...) into 16 kHz 20 ms PCM16 frames. Speech
bands must pass untouched and everything above the new Nyquist frequency must be filtered out,
not folded back into the speech band as aliases.
"""

from __future__ import annotations

import math

import pytest

from tests.browser import chromium
from tests.conftest import http_base

# Renders one second of a tone through the worklet offline and returns its 16 kHz output.
RENDER_TONE = """
async ([rate, freq]) => {
  const ctx = new OfflineAudioContext(1, rate, rate);
  await ctx.audioWorklet.addModule("/static/mic-worklet.js");
  const tone = ctx.createOscillator();
  tone.frequency.value = freq;
  const gain = ctx.createGain();
  gain.gain.value = 0.5;
  const node = new AudioWorkletNode(ctx, "mic-downsampler", {
    numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: "explicit",
    processorOptions: { targetRate: 16000, frameSamples: 320 },
  });
  const frames = [];
  node.port.onmessage = ({ data }) => frames.push(Array.from(new Int16Array(data.pcm)));
  tone.connect(gain).connect(node);
  tone.start();
  await ctx.startRendering();
  await new Promise((resolve) => setTimeout(resolve, 500));  // let the last frames arrive
  return { sizes: frames.map((f) => f.length), samples: frames.flat() };
}
"""


def _rms(samples: list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@pytest.mark.parametrize("device_rate", [48000, 44100])
async def test_worklet_resamples_to_16k_and_filters_aliases(
    server_url: str, device_rate: int
) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{http_base(server_url)}/talk")  # same origin as the worklet
        results = {}
        for freq in (1000, 3000, 10000, 14000):
            results[freq] = await page.evaluate(RENDER_TONE, [device_rate, freq])

    for result in results.values():
        # 20 ms frames of 320 samples; one second in, the kernel's half-width less out.
        assert set(result["sizes"]) == {320}
        assert 47 <= len(result["sizes"]) <= 50
    full_scale = 0.5 / math.sqrt(2) * 32768  # RMS of the input tone in PCM16 units
    skip = 1600  # the first 100 ms hold the filter's start-up
    passed = {f: _rms(r["samples"][skip:]) for f, r in results.items()}
    for freq in (1000, 3000):  # speech band: within 0.5 dB
        assert abs(20 * math.log10(passed[freq] / full_scale)) < 0.5, (freq, passed[freq])
    for freq in (10000, 14000):  # would alias to 6 kHz and 2 kHz: at least 60 dB down
        assert 20 * math.log10(max(passed[freq], 1e-3) / full_scale) < -60, (freq, passed[freq])

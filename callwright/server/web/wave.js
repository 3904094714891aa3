// The call recording: a two-lane waveform (caller, agent) over the native audio player, with a
// playhead, click to seek, and a callback on every position change to sync the transcript.

import { cssVar, el, fmtClock } from "./common.js";

/** Reads a 16-bit PCM WAV into per-channel Float32Arrays; null if it is not one. */
export function parseWav(buffer) {
  const view = new DataView(buffer);
  if (view.byteLength < 12 || view.getUint32(0, false) !== 0x52494646 || view.getUint32(8, false) !== 0x57415645) return null;
  let offset = 12;
  let channels = 0;
  let rate = 0;
  let bits = 0;
  while (offset + 8 <= view.byteLength) {
    const id = view.getUint32(offset, false);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 0x666d7420) {
      channels = view.getUint16(body + 2, true);
      rate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
    } else if (id === 0x64617461 && bits === 16 && channels > 0) {
      const frames = Math.floor(Math.min(size, view.byteLength - body) / (2 * channels));
      const out = Array.from({ length: channels }, () => new Float32Array(frames));
      for (let i = 0; i < frames; i++) {
        for (let c = 0; c < channels; c++) out[c][i] = view.getInt16(body + 2 * (i * channels + c), true) / 32768;
      }
      return { rate, channels: out };
    }
    offset = body + size + (size % 2);
  }
  return null;
}

function peaks(samples, columns) {
  const out = new Float32Array(columns);
  const per = samples.length / columns;
  for (let c = 0; c < columns; c++) {
    let max = 0;
    const end = Math.min(samples.length, Math.floor((c + 1) * per));
    for (let i = Math.floor(c * per); i < end; i++) {
      const v = Math.abs(samples[i]);
      if (v > max) max = v;
    }
    out[c] = max;
  }
  return out;
}

function draw(canvas, wav) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * ratio;
  const height = canvas.clientHeight * ratio;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const lanes = [
    [wav.channels[0], cssVar("--caller")],
    [wav.channels[1] || wav.channels[0], cssVar("--agent")],
  ];
  const laneH = height / 2;
  lanes.forEach(([samples, colour], lane) => {
    const p = peaks(samples, Math.max(1, Math.floor(width)));
    const mid = laneH * lane + laneH / 2;
    ctx.fillStyle = colour;
    // Peaks on a square-root scale so quiet speech is still visible next to loud speech.
    for (let x = 0; x < p.length; x++) {
      const h = Math.max(ratio * 0.5, Math.sqrt(p[x]) * (laneH / 2 - 2 * ratio));
      ctx.fillRect(x, mid - h, 1, 2 * h);
    }
  });
  ctx.fillStyle = "#e2e5ea";
  ctx.fillRect(0, laneH, width, ratio);
}

/**
 * Builds the player into `box`.
 *
 * @param {HTMLElement} box where it goes.
 * @param {string} url the recording's URL.
 * @param {(ms: number, playing: boolean) => void} onPosition called as playback moves.
 * @returns {{seek: (ms: number) => void, audio: HTMLAudioElement}}
 */
export function buildPlayer(box, url, onPosition) {
  // The audio plays from the bytes fetched for the waveform: one download, and seeking works
  // even where the server does not answer range requests.
  const audio = el("audio", { controls: true, preload: "auto", id: "recording", "data-src": url });
  const canvas = el("canvas", { "aria-label": "recording waveform" });
  const head = el("div", { class: "head" });
  const clock = el("span", { class: "muted mono", id: "position" }, "0:00.0");
  const wave = el("div", { class: "wave", id: "wave" }, canvas, head, el("div", { class: "lanes" }, el("span", {}, el("b", { style: { color: cssVar("--caller") } }, "caller")), el("span", {}, el("b", { style: { color: cssVar("--agent") } }, "agent"))));
  box.replaceChildren(wave, el("div", { class: "row", style: { alignItems: "center" } }, audio, clock));

  let wav = null;
  let frame = 0;
  const durationS = () => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : wav ? wav.channels[0].length / wav.rate : 0);
  const update = () => {
    const total = durationS();
    const t = audio.currentTime;
    head.style.left = total ? `${(100 * t) / total}%` : "0";
    clock.textContent = `${fmtClock(t * 1000)} / ${fmtClock(total * 1000)}`;
    onPosition(t * 1000, !audio.paused);
  };
  const loop = () => {
    update();
    if (!audio.paused) frame = requestAnimationFrame(loop);
  };
  audio.addEventListener("play", () => { cancelAnimationFrame(frame); frame = requestAnimationFrame(loop); });
  for (const name of ["pause", "seeked", "timeupdate", "loadedmetadata", "ended"]) audio.addEventListener(name, update);
  wave.addEventListener("click", (event) => {
    const rect = canvas.getBoundingClientRect();
    seek((1000 * durationS() * (event.clientX - rect.left)) / rect.width);
  });

  function seek(ms) {
    audio.currentTime = Math.max(0, ms / 1000);
    update();
    audio.play().catch(() => {});
  }

  fetch(url)
    .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((buffer) => {
      audio.src = URL.createObjectURL(new Blob([buffer], { type: "audio/wav" }));
      wav = parseWav(buffer);
      if (!wav) throw new Error("not a PCM16 WAV");
      wave.dataset.channels = String(wav.channels.length);
      wave.dataset.durationMs = String(Math.round((1000 * wav.channels[0].length) / wav.rate));
      draw(canvas, wav);
      new ResizeObserver(() => draw(canvas, wav)).observe(canvas);
      update();
    })
    .catch((err) => {
      wave.replaceChildren(el("div", { class: "empty" }, `waveform unavailable: ${err.message}`));
    });
  return { seek, audio };
}

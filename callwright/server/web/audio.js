// Browser audio for the talk page: the microphone as 16 kHz PCM16 frames, and gapless playback
// of the agent's PCM16 stream that can be cut at once on barge-in.

/** Captures the microphone and hands out 20 ms PCM16 frames at `rate`. */
export class Microphone {
  constructor({ rate = 16000, onFrame, onLevel }) {
    this.rate = rate;
    this.onFrame = onFrame;
    this.onLevel = onLevel || (() => {});
    this.ctx = null;
    this.stream = null;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    // The device's own rate: the worklet low-passes and resamples to 16 kHz itself.
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    await this.ctx.audioWorklet.addModule("/static/mic-worklet.js");
    const source = this.ctx.createMediaStreamSource(this.stream);
    const node = new AudioWorkletNode(this.ctx, "mic-downsampler", {
      numberOfInputs: 1,
      numberOfOutputs: 0, // a sink: processed without being connected to the speakers
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { targetRate: this.rate, frameSamples: this.rate / 50 },
    });
    node.port.onmessage = ({ data }) => {
      this.onFrame(data.pcm);
      this.onLevel(data.rms);
    };
    source.connect(node);
    await this.ctx.resume();
    return this.ctx.sampleRate;
  }

  async stop() {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    if (this.ctx) await this.ctx.close().catch(() => {});
    this.ctx = null;
  }
}

/**
 * Plays PCM16 chunks back to back on an AudioContext at the stream's own rate (so buffers are
 * not resampled one by one, which would click at their edges). `clear()` silences at once.
 */
export class AgentPlayer {
  constructor(rate, { leadS = 0.06 } = {}) {
    this.rate = rate;
    this.leadS = leadS;
    this.ctx = new AudioContext({ sampleRate: rate, latencyHint: "interactive" });
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 512;
    this.analyser.connect(this.ctx.destination);
    this.sources = new Set();
    this.nextTime = 0;
    this.receivedSamples = 0;
    this.level = new Float32Array(this.analyser.fftSize);
  }

  async resume() {
    await this.ctx.resume();
  }

  /** Queues one chunk of PCM16LE mono right after the previous one. */
  play(arrayBuffer) {
    const pcm = new Int16Array(arrayBuffer);
    if (!pcm.length) return;
    this.receivedSamples += pcm.length;
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
    const buffer = this.ctx.createBuffer(1, samples.length, this.rate);
    buffer.copyToChannel(samples, 0);
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.analyser);
    const now = this.ctx.currentTime;
    // After an underrun (or at the start of a reply) keep a small cushion against jitter.
    if (this.nextTime < now + 0.005) this.nextTime = now + this.leadS;
    source.start(this.nextTime);
    this.nextTime += buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  /** Drops everything scheduled: the agent was interrupted. */
  clear() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // not started yet on some engines; dropping it is enough
      }
    }
    this.sources.clear();
    this.nextTime = 0;
  }

  /** Seconds of agent audio still queued. */
  queuedS() {
    return Math.max(0, this.nextTime - this.ctx.currentTime);
  }

  /** RMS of what is playing now (0..1). */
  rms() {
    this.analyser.getFloatTimeDomainData(this.level);
    let sum = 0;
    for (const v of this.level) sum += v * v;
    return Math.sqrt(sum / this.level.length);
  }

  async close() {
    this.clear();
    await this.ctx.close().catch(() => {});
  }
}

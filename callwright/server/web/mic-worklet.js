// AudioWorklet: microphone at the context's rate → 16 kHz PCM16 frames of 20 ms.
//
// Resampling is band-limited interpolation with a Blackman-windowed sinc whose cut-off sits
// below the new Nyquist frequency, so it low-passes and resamples in one step and works for any
// ratio (48 kHz, 44.1 kHz, ...). Naive decimation would fold everything above 8 kHz into speech.

const ZERO_CROSSINGS = 16; // kernel half-width, in zero crossings of the sinc
const PHASES = 128; // kernel table resolution per input sample
const CUTOFF_HZ = 7000;

class MicDownsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = options.processorOptions || {};
    this.outRate = opts.targetRate || 16000;
    this.frameSamples = opts.frameSamples || (this.outRate / 50);
    this.step = sampleRate / this.outRate; // input samples per output sample
    const fc = Math.min(CUTOFF_HZ, 0.45 * this.outRate) / sampleRate; // cycles per input sample
    this.half = Math.ceil(ZERO_CROSSINGS / (2 * fc));
    this.table = new Float32Array(this.half * PHASES + 2);
    for (let i = 0; i <= this.half * PHASES; i++) {
      const t = i / PHASES;
      const x = 2 * fc * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = 0.42 + 0.5 * Math.cos((Math.PI * t) / this.half) + 0.08 * Math.cos((2 * Math.PI * t) / this.half);
      this.table[i] = 2 * fc * sinc * w;
    }
    // Input history, starting with `half` zeros so the first output has a full kernel behind it.
    this.buf = new Float32Array(8192);
    this.len = this.half;
    this.pos = this.half;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.sumSquares = 0;
  }

  kernel(t) {
    const idx = Math.abs(t) * PHASES;
    const i = idx | 0;
    if (i >= this.half * PHASES) return 0;
    const f = idx - i;
    return this.table[i] * (1 - f) + this.table[i + 1] * f;
  }

  append(samples) {
    if (this.len + samples.length > this.buf.length) {
      const bigger = new Float32Array(2 * (this.len + samples.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(samples, this.len);
    this.len += samples.length;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    this.append(input);
    const buf = this.buf;
    while (this.pos + this.half < this.len) {
      const center = Math.floor(this.pos);
      let acc = 0;
      for (let k = center - this.half + 1; k <= center + this.half; k++) acc += buf[k] * this.kernel(this.pos - k);
      this.emit(acc);
      this.pos += this.step;
    }
    // Drop the input no future output needs.
    const drop = Math.floor(this.pos) - this.half;
    if (drop > 0) {
      buf.copyWithin(0, drop, this.len);
      this.len -= drop;
      this.pos -= drop;
    }
    return true;
  }

  emit(value) {
    const s = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = s < 0 ? s * 32768 : s * 32767;
    this.sumSquares += s * s;
    if (this.filled === this.frameSamples) {
      const rms = Math.sqrt(this.sumSquares / this.frameSamples);
      const pcm = this.frame.buffer;
      this.port.postMessage({ pcm, rms }, [pcm]);
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
      this.sumSquares = 0;
    }
  }
}

registerProcessor("mic-downsampler", MicDownsampler);

// The talk page's WebRTC link: the microphone (with the browser's echo cancellation and noise
// suppression) as an Opus track, the agent's voice played from the remote track, and the
// native protocol's JSON events on a data channel named "control" (docs/webrtc.md).

/** A refused offer: `final` when a WebSocket would be refused too (auth, admission). */
export class OfferError extends Error {
  constructor(status, code, message) {
    super(`${code || status}: ${message || "the offer was refused"}`);
    this.status = status;
    this.code = code;
    this.final = [401, 403, 503].includes(status);
  }
}

const MIC_CONSTRAINTS = {
  audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
};

function gathered(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs); // send what was gathered so far
  });
}

function levelOf(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (const v of buffer) sum += v * v;
  return Math.sqrt(sum / buffer.length);
}

export class WebRtcLink {
  /** Whether this browser can place a WebRTC call at all. */
  static supported() {
    return typeof RTCPeerConnection === "function" && Boolean(navigator.mediaDevices?.getUserMedia);
  }

  constructor({ onEvent, onClose }) {
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.pc = null;
    this.channel = null;
    this.stream = null;
    this.audio = new Audio();
    this.audio.autoplay = true;
    this.ctx = null;
    this.micAnalyser = null;
    this.agentAnalyser = null;
    this.buffer = new Float32Array(512);
    this.codec = null;
  }

  /** Opens the microphone, sends the offer and applies the answer. */
  async open(parameters) {
    this.stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    this.micAnalyser = this.analyse(this.stream);
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    for (const track of this.stream.getAudioTracks()) pc.addTrack(track, this.stream);
    this.channel = pc.createDataChannel("control");
    this.channel.onmessage = (msg) => this.onEvent(JSON.parse(msg.data));
    this.channel.onclose = () => this.onClose("connection closed");
    pc.ontrack = (event) => {
      const remote = event.streams[0] || new MediaStream([event.track]);
      this.audio.srcObject = remote; // Chrome plays remote WebRTC audio through an element
      this.audio.play().catch(() => {});
      this.agentAnalyser = this.analyse(remote);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.onClose("connection failed");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 3000);
    const response = await fetch("/v1/webrtc/offer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp, caller: "browser", parameters }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new OfferError(response.status, body.error, body.message);
    this.codec = body.codec;
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    await this.ctx.resume();
  }

  analyse(stream) {
    const analyser = this.ctx.createAnalyser();
    analyser.fftSize = this.buffer.length;
    this.ctx.createMediaStreamSource(stream).connect(analyser);
    return analyser;
  }

  micLevel() {
    return this.micAnalyser ? levelOf(this.micAnalyser, this.buffer) : 0;
  }

  agentLevel() {
    return this.agentAnalyser ? levelOf(this.agentAnalyser, this.buffer) : 0;
  }

  /** Sends one control message (`{"type": "dtmf"}`, `{"type": "end"}`) if the channel is open. */
  send(event) {
    if (this.channel?.readyState !== "open") return false;
    this.channel.send(JSON.stringify(event));
    return true;
  }

  /** RTP counters: packets sent, and agent audio received (ms, and its energy). */
  async stats() {
    const out = { packetsSent: 0, agentAudioMs: 0, agentEnergy: 0 };
    if (!this.pc) return out;
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.kind !== "audio") return;
      if (s.type === "outbound-rtp") out.packetsSent += s.packetsSent || 0;
      if (s.type === "inbound-rtp") {
        out.agentAudioMs += Math.round(1000 * (s.totalSamplesDuration || 0));
        out.agentEnergy += s.totalAudioEnergy || 0;
      }
    });
    return out;
  }

  async close() {
    this.channel?.close();
    this.pc?.close();
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.audio.srcObject = null;
    if (this.ctx) await this.ctx.close().catch(() => {});
    this.pc = null;
    this.ctx = null;
  }
}

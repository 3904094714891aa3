// The talk page: one call over WebRTC (docs/webrtc.md), or over the native WebSocket protocol
// (docs/websocket-protocol.md) when WebRTC is missing or cannot connect; `?transport=websocket`
// asks for the WebSocket. Both carry the same JSON events.

import { AgentPlayer, Microphone } from "./audio.js";
import { stageLegend } from "./charts.js";
import { STAGES, cssVar, el, fmtMs, isNum, setActiveNav } from "./common.js";
import { WebRtcLink } from "./webrtc-link.js";

const INPUT_RATE = 16000;
const OUTPUT_RATE = 24000;
const WEBRTC_START_MS = 10000; // no "started" by then: the WebSocket instead

const ui = {
  button: document.getElementById("call"),
  state: document.getElementById("state"),
  detail: document.getElementById("detail"),
  chat: document.getElementById("chat"),
  turns: document.getElementById("turns"),
  summary: document.getElementById("latency-summary"),
  micLevel: document.getElementById("mic-level"),
  agentLevel: document.getElementById("agent-level"),
  callLink: document.getElementById("call-link"),
  conn: document.getElementById("conn"),
};

let call = null; // the call in progress, if any

function setState(state, label, detail = "") {
  document.body.dataset.callState = state;
  ui.state.textContent = label;
  ui.detail.textContent = detail;
  ui.button.textContent = state === "live" || state === "connecting" ? "Hang up" : "Call";
  ui.button.classList.toggle("live", state === "live" || state === "connecting");
  ui.button.disabled = state === "ending";
}

function addNote(text) {
  ui.chat.append(el("div", { class: "note" }, text));
  ui.chat.scrollTop = ui.chat.scrollHeight;
}

function bubble(role, turn) {
  document.getElementById("chat-empty")?.remove();
  const text = el("span", { class: "text" });
  const node = el("div", { class: `bubble ${role}`, "data-role": role, "data-turn": turn }, el("div", { class: "who" }, role === "caller" ? "you" : "agent"), text);
  ui.chat.append(node);
  ui.chat.scrollTop = ui.chat.scrollHeight;
  return node;
}

class Call {
  constructor() {
    this.ws = null;
    this.rtc = null;
    this.mic = null;
    this.player = null;
    this.callId = null;
    this.agentBubbles = new Map(); // turn → bubble of the agent's reply
    this.timelines = [];
    this.framesSent = 0;
    this.clears = 0;
    this.ended = false;
    this.levelTimer = 0;
    this.started = null; // resolves on the "started" event
  }

  async start() {
    setState("connecting", "Connecting…", "Opening the microphone");
    const wanted = new URLSearchParams(location.search).get("transport");
    if (wanted !== "websocket" && WebRtcLink.supported()) {
      try {
        await this.startWebRtc();
        return;
      } catch (err) {
        if (err.final || this.ended) throw err; // a WebSocket would be turned away too
        addNote(`WebRTC did not connect (${err.message}); using the WebSocket`);
        await this.rtc?.close();
        this.rtc = null;
      }
    }
    await this.startWebSocket();
  }

  async startWebRtc() {
    document.body.dataset.transport = "webrtc";
    const started = new Promise((resolve, reject) => {
      this.started = resolve;
      setTimeout(() => reject(new Error("no answer from the agent")), WEBRTC_START_MS);
    });
    this.rtc = new WebRtcLink({
      onEvent: (event) => this.onEvent(event),
      onClose: (reason) => (this.callId ? this.finish(reason) : null),
    });
    await this.rtc.open({ source: "talk-page", transport: "webrtc" });
    document.body.dataset.codec = this.rtc.codec;
    setState("connecting", "Connecting…", "Waiting for the agent");
    await started;
    this.levelTimer = setInterval(() => this.showRtcLevels(), 100);
  }

  async showRtcLevels() {
    if (!this.rtc) return;
    ui.micLevel.style.width = `${Math.min(100, this.rtc.micLevel() * 400)}%`;
    ui.agentLevel.style.width = `${Math.min(100, this.rtc.agentLevel() * 400)}%`;
    const stats = await this.rtc.stats();
    document.body.dataset.framesSent = String(stats.packetsSent);
    document.body.dataset.agentAudioMs = String(stats.agentAudioMs);
    document.body.dataset.agentEnergy = String(stats.agentEnergy);
  }

  async startWebSocket() {
    document.body.dataset.transport = "websocket";
    this.player = new AgentPlayer(OUTPUT_RATE);
    await this.player.resume();
    this.mic = new Microphone({
      rate: INPUT_RATE,
      onFrame: (pcm) => this.sendAudio(pcm),
      onLevel: (rms) => { ui.micLevel.style.width = `${Math.min(100, rms * 400)}%`; },
    });
    const micRate = await this.mic.start();
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${proto}//${location.host}/v1/ws`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => {
      this.ws.send(JSON.stringify({
        type: "start",
        sample_rate: INPUT_RATE,
        output_sample_rate: OUTPUT_RATE,
        caller: "browser",
        parameters: { source: "talk-page", mic_rate: String(micRate) },
      }));
      setState("connecting", "Connecting…", "Waiting for the agent");
    };
    this.ws.onmessage = (msg) => this.onMessage(msg);
    this.ws.onclose = () => this.finish("connection closed");
    this.ws.onerror = () => addNote("connection error");
    this.levelTimer = setInterval(() => {
      ui.agentLevel.style.width = `${Math.min(100, this.player.rms() * 400)}%`;
    }, 50);
  }

  sendAudio(pcm) {
    // Audio only flows once the call has started, so the server's timeline starts with it.
    if (!this.callId || this.ended || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(pcm);
    this.framesSent += 1;
    document.body.dataset.framesSent = String(this.framesSent);
  }

  onMessage(msg) {
    if (typeof msg.data !== "string") {
      this.player.play(msg.data);
      document.body.dataset.agentAudioMs = String(Math.round((1000 * this.player.receivedSamples) / OUTPUT_RATE));
      return;
    }
    this.onEvent(JSON.parse(msg.data));
  }

  onEvent(event) {
    switch (event.type) {
      case "started":
        this.callId = event.call_id;
        document.body.dataset.callId = event.call_id;
        if (this.ws && event.output_sample_rate !== OUTPUT_RATE) addNote(`server sends ${event.output_sample_rate} Hz`);
        setState("live", "On call", `call ${event.call_id.slice(0, 8)} · speak any time${this.rtc ? ` · WebRTC ${event.codec}` : ""}`);
        ui.conn.textContent = this.rtc ? "connected (WebRTC)" : "connected";
        this.started?.();
        break;
      case "transcript":
        bubble("caller", event.turn).querySelector(".text").textContent = event.text;
        break;
      case "agent_text": {
        let node = this.agentBubbles.get(event.turn);
        if (!node) {
          node = bubble("agent", event.turn);
          this.agentBubbles.set(event.turn, node);
        }
        const text = node.querySelector(".text");
        text.textContent = text.textContent ? `${text.textContent} ${event.text}` : event.text;
        ui.chat.scrollTop = ui.chat.scrollHeight;
        break;
      }
      case "clear":
        // Over WebRTC the server already dropped what was queued; nothing is buffered here.
        this.player?.clear();
        this.clears += 1;
        document.body.dataset.clears = String(this.clears);
        document.body.dataset.queuedAfterClearMs = String(Math.round(1000 * (this.player?.queuedS() || 0)));
        break;
      case "interruption": {
        const node = this.agentBubbles.get(event.turn);
        if (node) {
          node.classList.add("interrupted");
          node.querySelector(".text").textContent = event.heard || "";
          node.append(el("div", { class: "cut" }, "interrupted — the rest was not heard"));
        }
        break;
      }
      case "agent_turn_end":
        // The reply played to its end: marked, so a test can wait for it.
        this.agentBubbles.get(event.turn)?.setAttribute("data-ended", "true");
        this.agentBubbles.delete(event.turn); // a later reply with the same turn gets its own bubble
        break;
      case "turn_timeline":
        this.addTimeline(event);
        break;
      case "error":
        addNote(`error: ${event.code}: ${event.message}`);
        break;
      case "end":
        this.finish(event.reason || "call ended");
        break;
      default:
        break;
    }
  }

  addTimeline(t) {
    if (!isNum(t.speech_end_ms)) return; // the greeting: no caller turn to measure from
    const reply = this.agentBubbles.get(t.turn_index);
    if (reply && isNum(t.ttfa_ms)) reply.append(el("span", { class: "lat" }, `${fmtMs(t.ttfa_ms)} from your last word to its voice`));
    this.timelines.push(t);
    renderTurns(this.timelines);
  }

  hangUp() {
    if (this.rtc?.send({ type: "end" })) {
      setState("ending", "Hanging up…");
      setTimeout(() => this.finish("you hung up"), 3000);
    } else if (this.ws?.readyState === WebSocket.OPEN) {
      setState("ending", "Hanging up…");
      this.ws.send(JSON.stringify({ type: "end" }));
      setTimeout(() => this.finish("you hung up"), 3000);
    } else {
      this.finish("you hung up");
    }
  }

  async finish(reason) {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.levelTimer);
    ui.micLevel.style.width = "0";
    ui.agentLevel.style.width = "0";
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close();
    await this.mic?.stop();
    // Let the goodbye finish playing before closing the speaker (WebRTC: what is still in the
    // jitter buffer, a fraction of a second).
    const rtc = this.rtc;
    if (rtc) setTimeout(() => rtc.close(), 500);
    const player = this.player;
    if (player) setTimeout(() => player.close(), Math.min(10000, 1000 * player.queuedS() + 200));
    setState("ended", "Call ended", reason);
    ui.conn.textContent = "";
    addNote(`call ended: ${reason}`);
    if (this.callId) {
      ui.callLink.replaceChildren(el("a", { href: `/dashboard/calls/${this.callId}`, id: "view-call" }, "View this call in the dashboard →"));
    }
    call = null;
  }
}

function renderTurns(timelines) {
  const rows = timelines.map((t) => {
    let previous = t.speech_end_ms;
    const parts = [];
    for (const [mark, label, colour] of STAGES) {
      if (!isNum(t[mark])) continue;
      parts.push({ label, colour, ms: Math.max(0, t[mark] - previous) });
      previous = Math.max(previous, t[mark]);
    }
    return { t, parts, total: parts.reduce((s, p) => s + p.ms, 0) };
  });
  const max = Math.max(1, ...rows.map((r) => r.total));
  ui.turns.replaceChildren(
    ...rows.map(({ t, parts, total }) =>
      el(
        "div",
        { class: "turn", "data-turn": t.turn_index, "data-ttfa-ms": isNum(t.ttfa_ms) ? t.ttfa_ms : "" },
        el("div", { class: "top" }, el("b", {}, `Turn ${t.turn_index}`), t.interrupted ? el("span", { class: "badge bad" }, "interrupted") : null, t.speculative_hit ? el("span", { class: "badge info" }, "speculative") : null, el("span", { class: "ttfa" }, fmtMs(t.ttfa_ms))),
        el("div", { class: "segbar", style: { width: `${Math.max(4, (100 * total) / max)}%` } },
          parts.map((p) => el("i", { style: { width: `${(100 * p.ms) / (total || 1)}%`, background: cssVar(p.colour) }, title: `${p.label} ${fmtMs(p.ms)}` }))),
        el("div", { class: "muted", style: { marginTop: "3px", fontSize: "11px" } }, parts.map((p) => `${p.label} ${fmtMs(p.ms)}`).join(" · ")),
      )),
  );
  const ttfas = timelines.map((t) => t.ttfa_ms).filter(isNum).sort((a, b) => a - b);
  if (ttfas.length) ui.summary.textContent = `median ${fmtMs(ttfas[Math.floor((ttfas.length - 1) / 2)])} over ${ttfas.length} turn${ttfas.length === 1 ? "" : "s"}`;
}

ui.button.addEventListener("click", async () => {
  if (call) {
    call.hangUp();
    return;
  }
  ui.chat.replaceChildren();
  ui.turns.replaceChildren();
  ui.callLink.replaceChildren();
  ui.summary.textContent = "";
  call = new Call();
  try {
    await call.start();
  } catch (err) {
    const failed = call;
    call = null;
    await failed?.finish(`could not start: ${err.message}`);
  }
});
window.addEventListener("beforeunload", () => call?.hangUp());

setActiveNav("talk");
document.getElementById("turns-legend").replaceChildren(stageLegend());

// The handoff console (docs/handoff.md): sign in, watch the queue of calls the agent hands to
// a person, pick one up with its context packet, talk to the caller, then hand the call back
// to the agent or end it. Audio both ways is 16 kHz PCM16 over the console WebSocket.

import { AgentPlayer, Microphone } from "./audio.js";
import { el, fmtClock, fmtDuration, setActiveNav } from "./common.js";

const RATE = 16000; // console audio, both ways
const SPEECH_RMS = 0.01; // a chunk of caller audio above this (-40 dBFS) counts as speech
const RECONNECT_MS = 2000;
const IDLE_TEXT = "Pick up a waiting call to talk to the caller. Your microphone opens when you do.";

const $ = (id) => document.getElementById(id);
const ui = {
  conn: $("conn"),
  who: $("who"),
  signOut: $("signout"),
  notice: $("notice"),
  signInView: $("signin-view"),
  form: $("signin-form"),
  name: $("name"),
  password: $("password"),
  signIn: $("signin"),
  signInError: $("signin-error"),
  consoleView: $("console-view"),
  waiting: $("waiting"),
  waitingCount: $("waiting-count"),
  active: $("active"),
  humans: $("humans"),
  idle: $("call-idle"),
  idleText: $("idle-text"),
  lastCall: $("last-call"),
  live: $("call-live"),
  title: $("call-title"),
  timer: $("call-timer"),
  mute: $("mute"),
  handBack: $("hand-back"),
  endCall: $("end-call"),
  micLevel: $("mic-level"),
  callerLevel: $("caller-level"),
  packet: $("packet"),
  transcript: $("transcript"),
};
const data = document.body.dataset; // state for tests and tooling: see setState and Call

let signedIn = null; // the signed-in person's name
let ws = null; // the console WebSocket
let reconnectTimer = 0;
let call = null; // the call being picked up or talked to
let noticeTimer = 0;
const cards = new Map(); // call_id → waiting-call card

const TRIGGERS = {
  explicit_request: "asked for a person",
  frustration: "frustration",
  loop: "going in circles",
  low_confidence: "hard to hear",
  out_of_scope: "out of scope",
  agent_decision: "agent decided",
};

function setState(state) {
  data.consoleState = state;
  ui.signInView.classList.toggle("hidden", state !== "signed-out");
  ui.consoleView.classList.toggle("hidden", state === "signed-out");
  ui.who.classList.toggle("hidden", state === "signed-out");
  ui.signOut.classList.toggle("hidden", state === "signed-out");
  ui.idle.classList.toggle("hidden", state === "on-call");
  ui.live.classList.toggle("hidden", state !== "on-call");
  for (const button of ui.waiting.querySelectorAll("button.pickup")) button.disabled = call !== null;
}

function notify(text, kind = "") {
  ui.notice.textContent = text;
  ui.notice.className = `notice ${kind}`;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => ui.notice.classList.add("hidden"), 8000);
}

// --- signing in and out ---------------------------------------------------------------

async function checkSignedIn() {
  let response;
  try {
    response = await fetch("/v1/console/me", { headers: { Accept: "application/json" } });
  } catch {
    showSignIn("could not reach the server");
    return;
  }
  if (response.status === 401) showSignIn();
  else if (response.status === 403) showSignIn("the console needs the supervisor or admin role");
  else if (!response.ok) showSignIn(`the server answered HTTP ${response.status}`);
  else showConsole((await response.json()).name);
}

function showSignIn(error = "") {
  signedIn = null;
  ui.signInError.textContent = error;
  ui.conn.textContent = "";
  setState("signed-out");
  (ui.name.value ? ui.password : ui.name).focus();
}

function showConsole(name) {
  signedIn = name;
  ui.who.textContent = `Signed in as ${name}`;
  setState(call ? "on-call" : "queue");
  connect();
}

ui.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.signInError.textContent = "";
  ui.signIn.disabled = true;
  try {
    const response = await fetch("/v1/auth/signin", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name: ui.name.value.trim(), password: ui.password.value }),
    });
    const body = await response.json().catch(() => ({}));
    ui.password.value = "";
    if (response.status === 401) {
      ui.signInError.textContent = "wrong name or password";
    } else if (!response.ok) {
      ui.signInError.textContent = body.message || `sign-in failed: HTTP ${response.status}`;
    } else if (body.role !== "supervisor" && body.role !== "admin") {
      ui.signInError.textContent = "the console needs the supervisor or admin role";
    } else {
      showConsole(body.name);
    }
  } catch {
    ui.signInError.textContent = "could not reach the server";
  } finally {
    ui.signIn.disabled = false;
  }
});

ui.signOut.addEventListener("click", async () => {
  signedIn = null; // no reconnecting from here on
  clearTimeout(reconnectTimer);
  // Closing the socket takes us off the desk; a call in progress goes back to the agent.
  if (call) await call.finish("you signed out: the call went back to the agent");
  ws?.close();
  ws = null;
  await fetch("/v1/console/signout", { method: "POST" }).catch(() => {});
  clearQueue();
  showSignIn();
});

// --- the console socket -------------------------------------------------------------------

function connect() {
  if (ws) return;
  clearTimeout(reconnectTimer);
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${proto}//${location.host}/v1/console/ws`);
  ws = socket;
  socket.binaryType = "arraybuffer";
  ui.conn.textContent = "connecting…";
  socket.onopen = () => {
    ui.conn.textContent = "connected";
  };
  socket.onmessage = (msg) => onMessage(msg);
  socket.onclose = () => {
    if (ws !== socket) return; // replaced or closed on purpose
    ws = null;
    call?.finish("the console lost its connection: the call went back to the agent");
    if (signedIn) {
      ui.conn.textContent = "reconnecting…";
      reconnectTimer = setTimeout(checkSignedIn, RECONNECT_MS);
    }
  };
}

function send(message) {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function onMessage(msg) {
  if (typeof msg.data !== "string") {
    call?.onAudio(msg.data);
    return;
  }
  const event = JSON.parse(msg.data);
  switch (event.type) {
    case "queue":
      renderQueue(event);
      break;
    case "picked_up":
      if (call && !call.live) call.pickedUp(event);
      break;
    case "packet": // a better summary (the LLM's) arrived while on the call
      if (call?.live) ui.packet.replaceChildren(packetView(event.packet, { withEscalationTime: true }));
      break;
    case "transcript":
      call?.addLine(event.role, event.text, true);
      break;
    case "released":
      call?.finish(event.how === "end_call" ? "you ended the call" : "handed back to the agent");
      break;
    case "call_ended":
      call?.finish("the caller hung up");
      break;
    case "error":
      if (call && !call.live) call.abandon();
      notify(event.message || event.code, "bad");
      break;
    default:
      break;
  }
}

// --- the queue ------------------------------------------------------------------------------

function clearQueue() {
  cards.clear();
  ui.waiting.replaceChildren(el("div", { class: "empty" }, "No calls waiting."));
  ui.active.replaceChildren(el("div", { class: "empty" }, "Nobody is on a call."));
  ui.humans.textContent = "";
  ui.waitingCount.textContent = "";
  data.waiting = "0";
}

function renderQueue(queue) {
  const waiting = queue.waiting || [];
  data.waiting = String(waiting.length);
  ui.waitingCount.textContent = waiting.length ? `${waiting.length} waiting` : "";
  const humans = queue.humans || [];
  ui.humans.textContent = `${humans.length} signed in${humans.length ? `: ${humans.join(", ")}` : ""}`;

  // Cards are kept and updated in place, so a button is never swapped under the pointer.
  const ids = new Set(waiting.map((w) => w.call_id));
  for (const [id, card] of cards) {
    if (!ids.has(id)) {
      card.node.remove();
      cards.delete(id);
    }
  }
  const ordered = waiting.map((w) => {
    let card = cards.get(w.call_id);
    if (!card) {
      card = waitingCard(w);
      cards.set(w.call_id, card);
    }
    card.position.textContent = `#${w.position}`;
    card.waitingS = w.waiting_s;
    card.at = performance.now();
    tickCard(card);
    return card.node;
  });
  const shown = [...ui.waiting.querySelectorAll(":scope > .qcard")];
  if (!ordered.length) ui.waiting.replaceChildren(el("div", { class: "empty" }, "No calls waiting."));
  else if (shown.length !== ordered.length || shown.some((n, i) => n !== ordered[i])) ui.waiting.replaceChildren(...ordered);

  const active = queue.active || [];
  ui.active.replaceChildren(
    ...(active.length
      ? active.map((a) =>
          el(
            "div",
            { class: `qrow${a.call_id === call?.callId ? " mine" : ""}`, "data-call-id": a.call_id },
            el("b", {}, a.human),
            el("span", { class: "muted" }, "with"),
            el("span", {}, a.packet?.caller || "unknown caller"),
            triggerBadge(a.packet?.escalation),
            el("span", { class: "muted mono right" }, a.call_id.slice(0, 8)),
          ))
      : [el("div", { class: "empty" }, "Nobody is on a call.")]),
  );
}

function waitingCard(w) {
  const packet = w.packet || {};
  const position = el("span", { class: "pos num" });
  const wait = el("span", { class: "wait num" });
  const pickup = el("button", { type: "button", class: "primary pickup", "data-call-id": w.call_id, onclick: () => pickUp(w.call_id, pickup) }, "Pick up");
  pickup.disabled = call !== null;
  const node = el(
    "article",
    { class: "qcard", "data-call-id": w.call_id },
    el("div", { class: "qtop" }, position, el("b", { class: "caller" }, packet.caller || "unknown caller"), el("span", { class: "muted" }, packet.channel || ""), triggerBadge(packet.escalation), wait),
    packetView(packet),
    el("div", { class: "actions" }, el("span", { class: "muted mono" }, w.call_id.slice(0, 8)), pickup),
  );
  return { node, position, wait, waitingS: 0, at: 0 };
}

function tickCard(card) {
  card.wait.textContent = `waiting ${fmtDuration(card.waitingS + (performance.now() - card.at) / 1000)}`;
}

setInterval(() => {
  for (const card of cards.values()) tickCard(card);
  call?.tick();
}, 1000);

// --- the context packet -----------------------------------------------------------------------

function triggerBadge(escalation) {
  if (!escalation?.trigger) return null;
  const label = escalation.trigger.replaceAll("_", " ");
  return el("span", { class: "badge warn trigger", "data-trigger": escalation.trigger, title: TRIGGERS[escalation.trigger] || "" }, label);
}

function sentence(text) {
  return text ? text[0].toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".") : "";
}

function short(value, max = 140) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text && text.length > max ? `${text.slice(0, max - 1)}…` : text ?? "";
}

/** The packet as an operator reads it: why, the summary, then the facts. */
function packetView(packet, { withEscalationTime = false } = {}) {
  const escalation = packet.escalation || {};
  const identity = packet.identity || {};
  const slots = Object.entries(packet.slots || {});
  const tools = packet.tool_calls || [];
  const who = identity.verified
    ? [el("span", { class: "badge good" }, "verified"), " ", identity.name || identity.patient_id || ""]
    : [el("span", { class: "badge warn" }, "not verified")];
  const extra = Object.entries(identity).filter(([k]) => !["verified", "name", "patient_id"].includes(k));
  return el(
    "div",
    { class: "packet" },
    escalation.reason
      ? el("div", { class: "reason" }, sentence(escalation.reason), withEscalationTime && typeof escalation.at_ms === "number" ? el("span", { class: "muted" }, ` · at ${fmtClock(escalation.at_ms)} into the call`) : null)
      : null,
    packet.summary ? el("p", { class: "summary", title: packet.summary_by === "llm" ? "summary written by the LLM" : "summary written from the flow state" }, packet.summary) : null,
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "Intent"),
      el("dd", { class: "intent" }, packet.intent || el("span", { class: "muted" }, "not known")),
      el("dt", {}, "Identity"),
      el("dd", { class: "identity" }, who, extra.map(([k, v]) => el("div", { class: "muted" }, `${k.replaceAll("_", " ")}: ${short(v)}`))),
      el("dt", {}, "Slots"),
      el("dd", { class: "slots" }, slots.length ? slots.map(([k, v]) => el("div", {}, el("span", { class: "k" }, k.replaceAll("_", " ")), " ", short(v))) : el("span", { class: "muted" }, "none yet")),
      el("dt", {}, "Tool calls"),
      el(
        "dd",
        { class: "tools" },
        tools.length
          ? tools.map((t) =>
              el(
                "div",
                { class: "tool" },
                el("span", { class: "mono" }, t.name),
                " ",
                t.error ? el("span", { class: "badge bad" }, "failed") : el("span", { class: "badge good" }, "ok"),
                el("div", { class: "muted mono", title: JSON.stringify(t.error ?? t.result) }, short(t.error ?? t.result)),
              ))
          : el("span", { class: "muted" }, "none"),
      ),
    ),
  );
}

// --- a call with a person on it -------------------------------------------------------------

function pickUp(callId, button) {
  if (call || !ws) return;
  button.disabled = true;
  button.textContent = "Picking up…";
  call = new Call(callId, button);
  ui.idleText.textContent = "Picking up…";
  setState("queue"); // disables the other Pick up buttons
  send({ type: "pickup", call_id: callId });
}

class Call {
  constructor(callId, button) {
    this.callId = callId;
    this.button = button;
    // Made on the click, so the browser lets it play without another gesture.
    this.player = new AgentPlayer(RATE);
    this.player.resume().catch(() => {});
    this.mic = null;
    this.live = false;
    this.releasing = false;
    this.muted = false;
    this.ended = false;
    this.framesSent = 0;
    this.peak = 0;
    this.speechSamples = 0;
    this.lines = 0;
    this.startedAt = 0;
    this.releasedAt = null;
    this.levelTimer = 0;
  }

  async pickedUp(event) {
    this.live = true;
    this.startedAt = performance.now();
    Object.assign(data, { callId: this.callId, micFramesSent: "0", callerAudioMs: "0", callerPeak: "0", callerSpeechMs: "0", transcriptLines: "0" });
    const packet = event.packet || {};
    ui.title.replaceChildren(el("b", {}, packet.caller || "unknown caller"), " ", triggerBadge(packet.escalation), " ", el("span", { class: "muted" }, this.callId.slice(0, 8)));
    ui.packet.replaceChildren(packetView(packet, { withEscalationTime: true }));
    ui.transcript.replaceChildren();
    for (const line of event.transcript || []) this.addLine(line.role, line.text, false);
    ui.transcript.append(el("div", { class: "sep" }, "you picked up"));
    this.setMuted(false);
    for (const button of [ui.handBack, ui.endCall]) button.disabled = false;
    setState("on-call");
    this.tick();
    this.levelTimer = setInterval(() => {
      ui.callerLevel.style.width = `${Math.min(100, this.player.rms() * 400)}%`;
    }, 50);
    this.mic = new Microphone({
      rate: RATE,
      onFrame: (pcm) => this.sendFrame(pcm),
      onLevel: (rms) => {
        ui.micLevel.style.width = `${Math.min(100, (this.muted ? 0 : rms) * 400)}%`;
      },
    });
    try {
      await this.mic.start();
    } catch (err) {
      notify(`the microphone could not be opened (${err.message}): the caller cannot hear you`, "bad");
    }
    if (this.ended) await this.mic.stop(); // the call ended while the microphone was opening
  }

  sendFrame(pcm) {
    if (!this.live || this.ended || this.releasing || this.muted || ws?.readyState !== WebSocket.OPEN) return;
    ws.send(pcm);
    this.framesSent += 1;
    data.micFramesSent = String(this.framesSent);
  }

  onAudio(buffer) {
    if (!this.live || this.ended) return;
    this.player.play(buffer);
    const pcm = new Int16Array(buffer);
    let peak = 0;
    let sum = 0;
    for (const v of pcm) {
      const a = Math.abs(v);
      if (a > peak) peak = a;
      sum += v * v;
    }
    this.peak = Math.max(this.peak, peak / 32768);
    if (pcm.length && Math.sqrt(sum / pcm.length) / 32768 > SPEECH_RMS) this.speechSamples += pcm.length;
    data.callerAudioMs = String(Math.round((1000 * this.player.receivedSamples) / RATE));
    data.callerPeak = this.peak.toFixed(3);
    data.callerSpeechMs = String(Math.round((1000 * this.speechSamples) / RATE));
  }

  addLine(role, text, live) {
    const who = role === "caller" ? "caller" : role === "agent" ? "agent" : role;
    ui.transcript.append(
      el("div", { class: `utt ${who}${live ? " live" : ""}`, "data-role": role }, el("div", { class: "who" }, who, live ? el("span", { class: "t" }, "live") : null), el("div", { class: "text" }, text)),
    );
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
    this.lines += 1;
    data.transcriptLines = String(this.lines);
  }

  setMuted(muted) {
    this.muted = muted;
    ui.mute.textContent = muted ? "Unmute" : "Mute";
    ui.mute.classList.toggle("on", muted);
  }

  tick() {
    if (this.live && !this.ended && !this.releasing) ui.timer.textContent = fmtDuration((performance.now() - this.startedAt) / 1000);
  }

  release(kind) {
    if (!this.live || this.releasing) return;
    this.releasing = true; // the microphone stops reaching the caller at once
    this.releasedAt = performance.now();
    ui.handBack.disabled = true;
    ui.endCall.disabled = true;
    ui.timer.textContent = kind === "hand_back" ? "handing back…" : "ending…";
    send({ type: kind });
  }

  /** The pickup failed (the call was gone, or we were busy). */
  abandon() {
    this.ended = true;
    this.player.close();
    call = null;
    ui.idleText.textContent = IDLE_TEXT;
    setState("queue");
    if (this.button.isConnected) this.button.textContent = "Pick up";
  }

  async finish(reason) {
    if (this.ended) return;
    this.ended = true;
    call = null;
    clearInterval(this.levelTimer);
    ui.micLevel.style.width = "0";
    ui.callerLevel.style.width = "0";
    const length = this.live ? fmtDuration(((this.releasedAt ?? performance.now()) - this.startedAt) / 1000) : null;
    setState(signedIn ? "queue" : "signed-out");
    ui.idleText.textContent = IDLE_TEXT;
    ui.lastCall.classList.remove("hidden");
    ui.lastCall.replaceChildren(
      el("b", {}, "Last call "),
      el("span", { class: "mono" }, this.callId.slice(0, 8)),
      `: ${reason}${length ? ` after ${length}` : ""}. `,
      el("a", { href: `/dashboard/calls/${this.callId}`, id: "view-call" }, "View it in the dashboard →"),
    );
    await this.mic?.stop();
    setTimeout(() => this.player.close(), Math.min(5000, 1000 * this.player.queuedS() + 200));
  }
}

ui.handBack.addEventListener("click", () => call?.release("hand_back"));
ui.endCall.addEventListener("click", () => call?.release("end_call"));
ui.mute.addEventListener("click", () => call?.setMuted(!call.muted));

setActiveNav("console");
checkSignedIn();

// Shared helpers of the operator pages: DOM building, formatting, the JSON API, stage colours.

export const STAGES = [
  // [timeline mark, label, css colour variable, short label]; each stage runs from the
  // previous mark that happened.
  ["end_of_turn_ms", "end of turn", "--st-endpoint", "endpoint"],
  ["transcript_ready_ms", "transcript", "--st-stt", "STT"],
  ["first_token_ms", "first token", "--st-token", "LLM"],
  ["first_sentence_ms", "first sentence", "--st-sentence", "sentence"],
  ["tts_first_audio_ms", "TTS audio", "--st-tts", "TTS"],
  ["first_audio_sent_ms", "first audio sent", "--st-send", "send"],
];

const STAGE_ALIASES = {
  endpointing: "end_of_turn_ms",
  end_of_turn: "end_of_turn_ms",
  stt: "transcript_ready_ms",
  transcript: "transcript_ready_ms",
  transcript_ready: "transcript_ready_ms",
  llm: "first_token_ms",
  first_token: "first_token_ms",
  first_sentence: "first_sentence_ms",
  tts: "tts_first_audio_ms",
  tts_first_audio: "tts_first_audio_ms",
  send: "first_audio_sent_ms",
  first_audio_sent: "first_audio_sent_ms",
};

/** The STAGES entry of a stage name as the API spells it (several spellings accepted). */
export function stageOf(name) {
  const mark = STAGE_ALIASES[name] || STAGE_ALIASES[name.replace(/_ms$/, "")] || name;
  return STAGES.find((s) => s[0] === mark) || null;
}

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** Builds an element: el("td", {class: "r"}, "text", child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** GET a JSON endpoint; null when it does not exist (404), so pages degrade gracefully. */
export async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

export const isNum = (v) => typeof v === "number" && Number.isFinite(v);

export function fmtMs(v) {
  if (!isNum(v)) return "—";
  return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

export function fmtPct(v) {
  return isNum(v) ? `${(v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0)}%` : "—";
}

export function fmtDuration(seconds) {
  if (!isNum(seconds)) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

export function fmtClock(ms) {
  if (!isNum(ms)) return "";
  const s = Math.max(0, ms / 1000);
  return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}`;
}

export function fmtMoney(v) {
  if (!isNum(v)) return "—";
  if (v === 0) return "$0";
  return v < 0.01 ? `$${v.toFixed(4)}` : `$${v.toFixed(v < 1 ? 3 : 2)}`;
}

export function fmtTime(epochSeconds) {
  if (!isNum(epochSeconds)) return "—";
  const d = new Date(epochSeconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A badge for a call's outcome or status: green for completed, red for failures. */
export function outcomeBadge(outcome, status) {
  if (status === "active") return el("span", { class: "badge info" }, "live");
  if (status === "cut_off") return el("span", { class: "badge bad" }, "cut off");
  const text = outcome || "—";
  const kind =
    {
      completed: "good",
      transferred: "warn",
      escalated: "warn",
      caller_hung_up: "",
      caller_ended: "",
      caller_silent: "warn",
      rejected: "bad",
      error: "bad",
      protocol_error: "bad",
    }[text] ?? "";
  return el("span", { class: `badge ${kind}` }, text.replaceAll("_", " "));
}

/** Nice round axis ticks from 0 to at least `max`. */
export function ticks(max, count = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
}

export function setActiveNav(name) {
  for (const a of document.querySelectorAll(".topbar nav a")) {
    a.classList.toggle("active", a.dataset.nav === name);
  }
  wireSignOut();
}

/** The top bar's "Sign out": revokes the session on the server, then shows the sign-in page. */
function wireSignOut() {
  const button = document.getElementById("operator-signout");
  if (!button || button.dataset.wired) return;
  button.dataset.wired = "1";
  button.addEventListener("click", async () => {
    await fetch("/v1/auth/signout", { method: "POST" }).catch(() => {});
    location.assign("/signin");
  });
}

// One call: metadata, cost by layer, recording synced to the transcript, latency waterfall,
// per-turn stage table and the event log.

import { stageLegend, waterfall, widthOf } from "./charts.js";
import {
  STAGES, api, cssVar, el, fmtClock, fmtDuration, fmtMoney, fmtMs, fmtTime, isNum, outcomeBadge, setActiveNav,
} from "./common.js";
import { buildPlayer } from "./wave.js";

const ESCALATION_KINDS = new Set(["escalation", "transfer"]);
const COST_LAYERS = [
  ["stt", "Speech to text", "--st-stt"],
  ["tts", "Text to speech", "--st-tts"],
  ["llm", "Language model", "--st-token"],
  ["telephony", "Telephony", "--st-send"],
];

const callId = decodeURIComponent(location.pathname.split("/").pop());

function meta(label, value) {
  return el("div", {}, el("div", { class: "k" }, label), el("div", { class: "v" }, value ?? "—"));
}

function renderMeta(call, detail) {
  const escalation = detail.events.find((e) => ESCALATION_KINDS.has(e.kind));
  const duration = isNum(call.duration_s) ? call.duration_s : isNum(call.ended_at) ? call.ended_at - call.started_at : null;
  const callerTurns = detail.utterances.filter((u) => u.role === "caller").length;
  const params = Object.entries(call.parameters || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  document.getElementById("meta").replaceChildren(
    meta("Caller", call.caller || "unknown"),
    meta("Channel", call.channel),
    meta("Started", fmtTime(call.started_at)),
    meta("Length", call.status === "active" ? "in progress" : fmtDuration(duration)),
    meta("Outcome", outcomeBadge(call.outcome, call.status)),
    meta("End reason", call.end_reason),
    meta("Caller turns", String(callerTurns)),
    meta("Escalated", escalation ? `yes, at ${fmtClock(escalation.at_ms)}` : "no"),
    ...(params ? [meta("Parameters", params)] : []),
  );
}

function usageLine(layer, usage) {
  if (!usage) return "";
  if (layer === "stt" && isNum(usage.stt_audio_s)) return `${usage.stt_audio_s.toFixed(1)} s audio`;
  if (layer === "tts" && isNum(usage.tts_chars)) return `${usage.tts_chars} chars`;
  if (layer === "llm" && (isNum(usage.llm_prompt_tokens) || isNum(usage.llm_completion_tokens))) {
    return `${usage.llm_prompt_tokens ?? 0} in · ${usage.llm_completion_tokens ?? 0} out tokens`;
  }
  if (layer === "telephony" && isNum(usage.telephony_s)) return `${usage.telephony_s.toFixed(0)} s`;
  return "";
}

function renderCost(cost, usage) {
  const box = document.getElementById("cost");
  if (!cost) {
    box.replaceChildren(el("div", { class: "empty" }, "no cost recorded for this call"));
    return;
  }
  const total = isNum(cost.total) ? cost.total : COST_LAYERS.reduce((s, [k]) => s + (cost[k] || 0), 0);
  document.getElementById("cost-total").textContent = `total ${fmtMoney(total)}`;
  const bar = el(
    "div",
    { class: "costbar" },
    COST_LAYERS.filter(([k]) => cost[k] > 0).map(([k, label, colour]) =>
      el("i", { style: { width: `${(100 * cost[k]) / (total || 1)}%`, background: cssVar(colour) }, title: `${label} ${fmtMoney(cost[k])}` })),
  );
  const rows = COST_LAYERS.map(([k, label, colour]) =>
    el(
      "tr",
      { "data-layer": k },
      el("td", {}, el("span", { class: "legend", style: { margin: 0 } }, el("span", {}, el("i", { style: { background: cssVar(colour) } }), label))),
      el("td", { class: "muted" }, usageLine(k, usage)),
      el("td", { class: "r num" }, fmtMoney(cost[k])),
    ));
  rows.push(el("tr", { "data-layer": "total" }, el("td", {}, el("b", {}, "Total")), el("td", {}), el("td", { class: "r num" }, el("b", {}, fmtMoney(total)))));
  box.replaceChildren(bar, el("table", { class: "data", id: "cost-table" }, el("tbody", {}, rows)));
}

// Events that mark the agent starting a line of its own (policy speech without a timeline).
const AGENT_LINE_EVENTS = /reprompt|goodbye|filler|policy/;

/**
 * Start and end of each utterance on the call's audio timeline. Uses the stored times where
 * there are some. Otherwise: caller turn n spans its timeline's speech marks; each agent line
 * starts at the next agent start after the previous line (a reply's first audio sent, or a
 * policy line's event, such as a reprompt) and runs to the next line.
 */
function utteranceTimes(utterances, timelines, events) {
  const byTurn = new Map(timelines.map((t) => [t.turn_index, t]));
  const agentStarts = [
    ...timelines.map((t) => t.first_audio_sent_ms ?? t.tts_first_audio_ms),
    ...events.filter((e) => AGENT_LINE_EVENTS.test(e.kind)).map((e) => e.at_ms),
  ].filter(isNum).sort((a, b) => a - b);
  let turn = 0;
  let last = -Infinity;
  const spans = utterances.map((u) => {
    if (u.role === "caller") turn += 1;
    const t = byTurn.get(turn);
    let start = u.start_ms;
    let end = u.end_ms;
    if (!isNum(start) && u.role === "caller" && t) start = t.speech_start_ms;
    if (!isNum(end) && u.role === "caller" && t) end = t.speech_end_ms;
    if (!isNum(start) && u.role === "agent") {
      const i = agentStarts.findIndex((s) => s >= last);
      if (i >= 0) start = agentStarts.splice(i, 1)[0];
    }
    if (isNum(start)) last = start;
    return { start: isNum(start) ? start : null, end: isNum(end) ? end : null };
  });
  spans.forEach((s, i) => {
    if (s.end === null && s.start !== null) {
      const next = spans.slice(i + 1).find((n) => n.start !== null);
      s.end = next ? next.start : s.start + 4000;
    }
  });
  return spans;
}

function renderTranscript(detail, seek) {
  const spans = utteranceTimes(detail.utterances, detail.timelines, detail.events);
  const box = document.getElementById("transcript");
  const items = detail.utterances.map((u, i) =>
    el(
      "div",
      {
        class: `utt ${u.role}${u.interrupted ? " interrupted" : ""}`,
        "data-index": u.index,
        "data-role": u.role,
        "data-start-ms": spans[i].start ?? "",
        "data-end-ms": spans[i].end ?? "",
        title: spans[i].start !== null ? "play from here" : "",
        onclick: () => { if (spans[i].start !== null && seek) seek(spans[i].start); },
      },
      el("div", { class: "who" }, u.role, el("span", { class: "t" }, spans[i].start !== null ? fmtClock(spans[i].start) : "")),
      el("div", {}, el("span", { class: "text" }, u.text), u.interrupted ? el("span", { class: "cut" }, "interrupted") : null),
    ));
  box.replaceChildren(...(items.length ? items : [el("div", { class: "empty" }, "no transcript")]));
  const cuts = detail.utterances.filter((u) => u.interrupted).length;
  document.getElementById("transcript-note").textContent = `${detail.utterances.length} lines${cuts ? ` · ${cuts} interrupted` : ""}`;
  return { items, spans };
}

function highlighter(items, spans) {
  let current = -1;
  return (ms, playing) => {
    let found = -1;
    spans.forEach((s, i) => {
      if (s.start !== null && ms >= s.start && ms < s.end) found = i;
    });
    if (found === current) return;
    if (current >= 0) items[current].classList.remove("playing");
    current = found;
    if (found >= 0) {
      items[found].classList.add("playing");
      if (playing) items[found].scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  };
}

function renderTurns(timelines) {
  const head = el("tr", {}, el("th", {}, "Turn"), STAGES.map(([, label, , short]) => el("th", { class: "r", title: label }, short)), el("th", { class: "r" }, "TTFA"), el("th", { class: "r" }, "STT compute"), el("th", {}, ""));
  const rows = timelines
    .filter((t) => isNum(t.speech_end_ms))
    .sort((a, b) => a.turn_index - b.turn_index)
    .map((t) => {
      let previous = t.speech_end_ms;
      const cells = STAGES.map(([mark]) => {
        const at = t[mark];
        if (!isNum(at)) return el("td", { class: "r muted" }, "—");
        const cell = el("td", { class: "r num" }, fmtMs(at - previous));
        previous = at;
        return cell;
      });
      const flags = [t.speculative_hit ? "speculative" : null, t.interrupted ? "interrupted" : null].filter(Boolean).join(" · ");
      return el("tr", { "data-turn": t.turn_index }, el("td", {}, t.turn_index), cells, el("td", { class: "r num" }, el("b", {}, fmtMs(t.ttfa_ms))), el("td", { class: "r num" }, fmtMs(t.stt_compute_ms)), el("td", { class: "muted" }, flags));
    });
  document.getElementById("turns").replaceChildren(el("thead", {}, head), el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 10, class: "empty" }, "no caller turns"))));
}

function compact(data) {
  const text = JSON.stringify(data ?? {});
  return text === "{}" ? "" : text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

function renderEvents(events) {
  document.getElementById("events-count").textContent = `${events.length} events`;
  const tone = (kind) => (ESCALATION_KINDS.has(kind) ? "warn" : kind === "barge_in" ? "bad" : kind === "tool_call" ? "info" : "");
  document.getElementById("events").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, "At"), el("th", {}, "Event"), el("th", {}, "Details"))),
    el("tbody", {}, events.map((e) => el("tr", { "data-kind": e.kind }, el("td", { class: "mono" }, fmtClock(e.at_ms)), el("td", {}, el("span", { class: `badge ${tone(e.kind)}` }, e.kind.replaceAll("_", " "))), el("td", { class: "mono" }, compact(e.data))))),
  );
}

async function main() {
  setActiveNav("dashboard");
  document.getElementById("call-id").textContent = callId.slice(0, 12);
  const detail = await api(`/v1/calls/${encodeURIComponent(callId)}`);
  if (!detail) {
    document.getElementById("not-found").classList.remove("hidden");
    document.body.dataset.loaded = "true";
    return;
  }
  detail.utterances ||= [];
  detail.events ||= [];
  detail.timelines ||= [];
  const call = detail.call;
  document.title = `Call ${callId.slice(0, 8)} · callwright`;
  document.getElementById("badges").replaceChildren(outcomeBadge(call.outcome, call.status));
  document.getElementById("started").textContent = fmtTime(call.started_at);
  renderMeta(call, detail);
  renderCost(detail.cost, detail.usage);

  let player = null;
  const recordingUrl = detail.recording_url;
  const transcript = renderTranscript(detail, (ms) => player?.seek(ms));
  if (recordingUrl) {
    player = buildPlayer(document.getElementById("player"), recordingUrl, highlighter(transcript.items, transcript.spans));
  } else {
    document.getElementById("player").replaceChildren(el("div", { class: "empty", id: "no-recording" }, "No recording for this call."));
  }
  const chart = document.getElementById("waterfall");
  const drawWaterfall = () => chart.replaceChildren(waterfall(detail.timelines, widthOf(chart)));
  drawWaterfall();
  window.addEventListener("resize", drawWaterfall);
  document.getElementById("waterfall-legend").replaceChildren(stageLegend());
  renderTurns(detail.timelines);
  renderEvents(detail.events);
  document.body.dataset.loaded = "true";
}

main().catch((err) => {
  document.getElementById("not-found").textContent = `Could not load this call: ${err.message}`;
  document.getElementById("not-found").classList.remove("hidden");
  document.body.dataset.loaded = "error";
});

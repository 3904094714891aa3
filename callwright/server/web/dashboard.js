// The overview page: filters, KPI tiles, latency and outcome charts, and the calls list.

import { countBars, histogram, percentileBars, stageRows, widthOf } from "./charts.js";
import {
  api, cssVar, el, fmtDuration, fmtMoney, fmtMs, fmtPct, fmtTime, isNum, outcomeBadge, setActiveNav,
} from "./common.js";

const FILTERS = ["from", "to", "outcome", "status", "escalated", "slow_ms"];
const REFRESH_MS = 15000;
const DEFAULT_SLOW_MS = 1000;

const form = document.getElementById("filters");

function readFilters() {
  const params = new URLSearchParams(location.search);
  const out = {};
  for (const name of FILTERS) out[name] = params.get(name) || "";
  return out;
}

function fillForm(filters) {
  for (const name of FILTERS) form.elements[name].value = filters[name];
}

/** Local calendar days to epoch seconds: [start of `from`, start of the day after `to`). */
function dayRange(filters) {
  const toEpoch = (day, plusDays = 0) => {
    const [y, m, d] = day.split("-").map(Number);
    return new Date(y, m - 1, d + plusDays).getTime() / 1000;
  };
  return {
    since: filters.from ? toEpoch(filters.from) : null,
    until: filters.to ? toEpoch(filters.to, 1) : null,
  };
}

function callsQuery(filters) {
  const q = new URLSearchParams({ limit: "500" });
  const { since, until } = dayRange(filters);
  if (since !== null) q.set("since", String(since));
  if (until !== null) q.set("until", String(until));
  for (const name of ["outcome", "status", "escalated", "slow_ms"]) {
    if (filters[name]) q.set(name, filters[name]);
  }
  return q;
}

function kpisQuery(filters) {
  const q = new URLSearchParams();
  const { since, until } = dayRange(filters);
  if (since !== null) q.set("since", String(since));
  if (until !== null) q.set("until", String(until));
  return q;
}

function kpiTile(key, label, value, display, { hint = "", meter = null, tone = "" } = {}) {
  return el(
    "div",
    { class: `kpi ${tone}`, "data-kpi": key, "data-value": isNum(value) ? value : "" },
    el("div", { class: "label", title: label }, label),
    el("div", { class: "value" }, display),
    hint ? el("div", { class: "hint" }, hint) : null,
    meter !== null ? el("div", { class: "meter" }, el("i", { style: { width: `${Math.round(meter * 100)}%` } })) : null,
  );
}

function renderKpis(k) {
  const box = document.getElementById("kpis");
  if (!k) {
    box.replaceChildren(el("div", { class: "panel empty", style: { gridColumn: "1 / -1" } }, "KPIs unavailable: the server has no /v1/kpis endpoint."));
    return;
  }
  const rate = (v) => (isNum(v) ? v : null);
  box.replaceChildren(
    kpiTile("calls", "Calls", k.calls, isNum(k.calls) ? String(k.calls) : "—", { hint: "in range" }),
    kpiTile("containment_rate", "Containment", k.containment_rate, fmtPct(k.containment_rate), { meter: rate(k.containment_rate), tone: "good", hint: "no human needed" }),
    kpiTile("task_completion_rate", "Task completion", k.task_completion_rate, fmtPct(k.task_completion_rate), { meter: rate(k.task_completion_rate), tone: "good", hint: "caller got it done" }),
    kpiTile("escalation_rate", "Escalation rate", k.escalation_rate, fmtPct(k.escalation_rate), { meter: rate(k.escalation_rate), tone: "bad", hint: "handed to a human" }),
    kpiTile("avg_time_to_escalation_s", "Time to escalation", k.avg_time_to_escalation_s, fmtDuration(k.avg_time_to_escalation_s), { hint: "average" }),
    kpiTile("drop_off_after_greeting_rate", "Drop-off after greeting", k.drop_off_after_greeting_rate, fmtPct(k.drop_off_after_greeting_rate), { meter: rate(k.drop_off_after_greeting_rate), tone: "bad", hint: "hung up unheard" }),
    kpiTile("avg_call_length_s", "Avg call length", k.avg_call_length_s, fmtDuration(k.avg_call_length_s), { hint: "ended calls" }),
    kpiTile("avg_cost_per_call", "Cost per call", k.avg_cost_per_call, fmtMoney(k.avg_cost_per_call), { hint: "STT · TTS · LLM · telephony" }),
  );
}

function renderStageChart(k) {
  const box = document.getElementById("stage-chart");
  const rows = stageRows(k);
  if (!rows.length || !rows.some((r) => isNum(r.p50))) {
    box.replaceChildren(el("div", { class: "empty" }, k ? "no turns in range" : "KPIs unavailable"));
    return;
  }
  box.replaceChildren(percentileBars(rows, widthOf(box)));
}

function outcomeKey(call) {
  if (call.status === "active") return "live";
  if (call.status === "cut_off") return "cut off";
  return (call.outcome || "unknown").replaceAll("_", " ");
}

const OUTCOME_COLOURS = {
  completed: "--good",
  "cut off": "--bad",
  error: "--bad",
  "protocol error": "--bad",
  rejected: "--bad",
  transferred: "--warn",
  "caller silent": "--warn",
  live: "--accent",
};

function renderOutcomes(calls) {
  const counts = new Map();
  for (const c of calls) counts.set(outcomeKey(c), (counts.get(outcomeKey(c)) || 0) + 1);
  const items = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([label, value]) => ({ label, value, color: cssVar(OUTCOME_COLOURS[label] || "--ink-3") }));
  const box = document.getElementById("outcome-chart");
  document.getElementById("outcome-note").textContent = `${calls.length} listed calls`;
  box.replaceChildren(items.length ? countBars(items, { name: "outcomes", width: widthOf(box) }) : el("div", { class: "empty" }, "no calls"));
}

function duration(call) {
  if (isNum(call.duration_s)) return call.duration_s;
  if (isNum(call.ended_at) && isNum(call.started_at)) return Math.max(0, call.ended_at - call.started_at);
  return null;
}

function latencyCell(ms, slowMs) {
  if (!isNum(ms)) return el("span", { class: "muted" }, "—");
  const tone = ms >= slowMs * 1.5 ? "very-slow" : ms >= slowMs ? "slow" : "";
  const width = Math.min(100, (ms / (slowMs * 2)) * 100);
  return el("span", { class: `lat ${tone}` }, el("span", { class: "bar" }, el("i", { style: { width: `${width}%` } })), el("span", { class: "num" }, fmtMs(ms)));
}

function renderCalls(calls, slowMs) {
  const body = document.querySelector("#calls tbody");
  document.getElementById("calls-count").textContent = `${calls.length} call${calls.length === 1 ? "" : "s"}`;
  if (!calls.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 10, class: "empty" }, "No calls match these filters.")));
    return;
  }
  body.replaceChildren(
    ...calls.map((c) => {
      const href = `/dashboard/calls/${encodeURIComponent(c.call_id)}`;
      return el(
        "tr",
        { class: "clickable", "data-call-id": c.call_id, onclick: (e) => { if (!e.target.closest("a")) location.href = href; } },
        el("td", { class: "num" }, fmtTime(c.started_at)),
        el("td", {}, el("a", { href, class: "mono" }, c.call_id.slice(0, 8))),
        el("td", {}, c.caller || el("span", { class: "muted" }, "unknown")),
        el("td", {}, c.channel || "—"),
        el("td", { class: "r num" }, fmtDuration(duration(c))),
        el("td", { class: "r num" }, isNum(c.turns) ? c.turns : "—"),
        el("td", {}, latencyCell(c.max_ttfa_ms, slowMs)),
        el("td", {}, outcomeBadge(c.outcome, c.status)),
        el("td", {}, c.escalated === true ? el("span", { class: "badge warn" }, "escalated") : c.escalated === false ? el("span", { class: "muted" }, "no") : "—"),
        el("td", { class: "r num" }, fmtMoney(c.cost_total)),
      );
    }),
  );
}

let latest = null; // what the charts show, kept to redraw them at a new width

function renderCharts() {
  if (!latest) return;
  const { calls, kpis, slowMs } = latest;
  renderStageChart(kpis);
  renderOutcomes(calls);
  const hist = document.getElementById("ttfa-hist");
  hist.replaceChildren(histogram(calls.map((c) => c.max_ttfa_ms), 250, { name: "ttfa-histogram", threshold: slowMs, width: widthOf(hist) }));
}

function rangeLabel(filters) {
  if (!filters.from && !filters.to) return "all time";
  return `${filters.from || "…"} → ${filters.to || "today"}`;
}

let generation = 0; // a refresh that a newer one overtook must not draw stale results

async function refresh() {
  const mine = ++generation;
  const search = location.search;
  const filters = readFilters();
  document.getElementById("range-label").textContent = rangeLabel(filters);
  const slowMs = Number(filters.slow_ms) || DEFAULT_SLOW_MS;
  const [list, kpis, health] = await Promise.all([
    api(`/v1/calls?${callsQuery(filters)}`),
    api(`/v1/kpis?${kpisQuery(filters)}`).catch(() => null),
    api("/healthz").catch(() => null),
  ]);
  if (mine !== generation) return;
  const calls = list?.calls || [];
  latest = { calls, kpis, slowMs };
  renderKpis(kpis);
  renderCharts();
  renderCalls(calls, slowMs);
  if (health) document.getElementById("health").textContent = `${health.active_calls} active call${health.active_calls === 1 ? "" : "s"}`;
  document.body.dataset.loaded = "true";
  document.body.dataset.query = search;
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
  refresh();
});
document.getElementById("reset").addEventListener("click", () => {
  history.replaceState(null, "", location.pathname);
  fillForm(readFilters());
  refresh();
});

let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(renderCharts, 150);
});

setActiveNav("dashboard");
fillForm(readFilters());
refresh().catch((err) => {
  document.getElementById("filter-note").textContent = `could not load: ${err.message}`;
});
setInterval(() => {
  if (document.visibilityState === "visible") refresh().catch(() => {});
}, REFRESH_MS);

// Inline SVG charts: no library, sized by viewBox so they scale with their panel.

import { STAGES, cssVar, el, fmtMs, isNum, stageOf, svg, ticks } from "./common.js";

const DEFAULT_WIDTH = 640;

/** Charts draw in CSS pixels of their container so text keeps its size at any width. */
export function widthOf(box) {
  return Math.max(320, Math.round(box?.clientWidth || DEFAULT_WIDTH));
}

function axis(x0, x1, y, max, unit = (v) => fmtMs(v), gridTop = null) {
  const g = svg("g", { class: "axis" });
  for (const t of ticks(max)) {
    if (t > max) break;
    const x = x0 + ((x1 - x0) * t) / max;
    if (gridTop !== null) g.append(svg("line", { x1: x, x2: x, y1: gridTop, y2: y, class: "grid-line", stroke: "#eef0f3" }));
    g.append(svg("text", { x, y: y + 12, "text-anchor": "middle" }, unit(t)));
  }
  return g;
}

/**
 * p50/p95 per stage as paired bars. `rows`: [{label, color, p50, p95}].
 */
export function percentileBars(rows, W = DEFAULT_WIDTH) {
  const labelW = 120;
  const valueW = 112;
  const rowH = 24;
  const x0 = labelW;
  const x1 = W - valueW;
  const max = Math.max(1, ...rows.flatMap((r) => [r.p50, r.p95].filter(isNum))) * 1.05;
  const scale = (v) => ((x1 - x0) * v) / max;
  const h = rows.length * rowH + 20;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${h}`, role: "img", "data-chart": "percentiles" });
  root.append(axis(x0, x1, rows.length * rowH + 2, max, fmtMs, 0));
  rows.forEach((r, i) => {
    const y = i * rowH;
    root.append(svg("text", { x: labelW - 8, y: y + 15, "text-anchor": "end", "font-weight": r.bold ? 600 : 400 }, r.label));
    if (isNum(r.p95)) {
      root.append(
        svg("rect", { x: x0, y: y + 4, width: Math.max(1, scale(r.p95)), height: 14, rx: 2, fill: r.color, opacity: 0.3 },
          svg("title", {}, `${r.label} p95 ${fmtMs(r.p95)}`)),
      );
    }
    if (isNum(r.p50)) {
      root.append(
        svg("rect", { x: x0, y: y + 7, width: Math.max(1, scale(r.p50)), height: 8, rx: 2, fill: r.color },
          svg("title", {}, `${r.label} p50 ${fmtMs(r.p50)}`)),
      );
    }
    root.append(
      svg("text", { x: W - valueW + 8, y: y + 15, class: "num" },
        svg("tspan", { "font-weight": 600, fill: "#1b1f24" }, fmtMs(r.p50)),
        svg("tspan", { fill: "#8a93a0" }, `  p95 ${fmtMs(r.p95)}`)),
    );
  });
  return root;
}

/** Rows for `percentileBars` from the KPI API's `ttfa` and `stages`. */
export function stageRows(kpis) {
  const rows = [];
  if (kpis?.ttfa) {
    // Turns never answered are not in the percentiles: the label says how many there were.
    const missed = kpis.ttfa.unanswered ? ` (${kpis.ttfa.unanswered} unanswered)` : "";
    rows.push({ label: `time to first audio${missed}`, color: cssVar("--accent"), bold: true, ...kpis.ttfa });
  }
  const stages = kpis?.stages || {};
  const known = STAGES.map(([mark, label, colour]) => {
    const key = Object.keys(stages).find((k) => stageOf(k)?.[0] === mark);
    return key ? { label, color: cssVar(colour), ...stages[key] } : null;
  }).filter(Boolean);
  const unknown = Object.keys(stages)
    .filter((k) => !stageOf(k))
    .map((k) => ({ label: k.replaceAll("_", " "), color: "#9aa3af", ...stages[k] }));
  return [...rows, ...known, ...unknown];
}

/** Horizontal count bars: [{label, value, color}]. */
export function countBars(items, { format = (v) => String(v), name = "counts", width: W = DEFAULT_WIDTH } = {}) {
  const labelW = 130;
  const rowH = 22;
  const max = Math.max(1, ...items.map((i) => i.value));
  const x0 = labelW;
  const x1 = W - 70;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${Math.max(rowH, items.length * rowH)}`, "data-chart": name });
  items.forEach((item, i) => {
    const y = i * rowH;
    const w = ((x1 - x0) * item.value) / max;
    root.append(svg("text", { x: labelW - 8, y: y + 14, "text-anchor": "end" }, item.label));
    root.append(svg("rect", { x: x0, y: y + 4, width: Math.max(1, w), height: 13, rx: 2, fill: item.color || cssVar("--accent") },
      svg("title", {}, `${item.label}: ${format(item.value)}`)));
    root.append(svg("text", { x: x0 + w + 6, y: y + 14, class: "num", fill: "#1b1f24" }, format(item.value)));
  });
  return root;
}

/** Column histogram of values (ms) in buckets of `bucket` ms. */
export function histogram(values, bucket = 250, { name = "histogram", threshold = null, width: W = DEFAULT_WIDTH } = {}) {
  const h = 150;
  const bottom = h - 20;
  const nums = values.filter(isNum);
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${h}`, "data-chart": name });
  if (!nums.length) {
    root.append(svg("text", { x: W / 2, y: h / 2, "text-anchor": "middle" }, "no turns yet"));
    return root;
  }
  const n = Math.min(24, Math.max(4, Math.ceil(Math.max(...nums) / bucket) + 1));
  const counts = new Array(n).fill(0);
  for (const v of nums) counts[Math.min(n - 1, Math.floor(v / bucket))] += 1;
  const max = Math.max(...counts);
  const x0 = 30;
  const bw = (W - x0) / n;
  for (const t of ticks(max, 3)) {
    const y = bottom - ((bottom - 10) * t) / max;
    root.append(svg("line", { x1: x0, x2: W, y1: y, y2: y, stroke: "#eef0f3" }));
    root.append(svg("text", { x: x0 - 6, y: y + 3, "text-anchor": "end", class: "num", "font-size": 10, fill: "#8a93a0" }, t));
  }
  counts.forEach((c, i) => {
    const bh = ((bottom - 10) * c) / max;
    const lo = i * bucket;
    const slow = threshold !== null && lo >= threshold;
    root.append(
      svg("rect", { x: x0 + i * bw + 2, y: bottom - bh, width: bw - 4, height: bh, rx: 2, fill: slow ? cssVar("--warn") : cssVar("--accent"), opacity: 0.85 },
        svg("title", {}, `${fmtMs(lo)}–${fmtMs(lo + bucket)}: ${c}`)),
    );
    if (i % Math.ceil(n / 8) === 0) {
      root.append(svg("text", { x: x0 + i * bw, y: h - 4, "font-size": 10, fill: "#8a93a0" }, fmtMs(lo)));
    }
  });
  return root;
}

/**
 * The per-turn latency waterfall: for each caller turn, from the caller's end of speech (0)
 * through end of turn, transcript, first token, first sentence, TTS audio and first audio sent.
 */
export function waterfall(timelines, W = DEFAULT_WIDTH) {
  const turns = timelines.filter((t) => isNum(t.speech_end_ms)).sort((a, b) => a.turn_index - b.turn_index);
  const labelW = 84;
  const valueW = 70;
  const rowH = 26;
  const x0 = labelW;
  const x1 = W - valueW;
  const ends = turns.map((t) => {
    const marks = STAGES.map(([m]) => t[m]).filter(isNum);
    return marks.length ? Math.max(...marks) - t.speech_end_ms : 0;
  });
  const max = Math.max(200, ...ends) * 1.04;
  const scale = (v) => ((x1 - x0) * v) / max;
  const h = turns.length * rowH + 22;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${h}`, "data-chart": "waterfall" });
  root.append(axis(x0, x1, turns.length * rowH + 4, max, fmtMs, 0));
  turns.forEach((t, i) => {
    const y = i * rowH;
    const row = svg("g", { class: "wf-row", "data-turn": t.turn_index });
    const marks = [t.speculative_hit ? "⚡" : "", t.interrupted ? "✂" : ""].join("");
    row.append(svg("text", { x: 0, y: y + 16 }, `turn ${t.turn_index}`,
      marks ? svg("tspan", { fill: t.interrupted ? cssVar("--bad") : "#8a93a0", dx: 4 }, marks) : null,
      svg("title", {}, [t.speculative_hit ? "answered from the speculative transcript" : "", t.interrupted ? "the caller interrupted this reply" : ""].filter(Boolean).join("; ") || `turn ${t.turn_index}`)));
    let previous = t.speech_end_ms;
    for (const [mark, label, colour] of STAGES) {
      const at = t[mark];
      if (!isNum(at)) continue;
      const start = Math.max(0, previous - t.speech_end_ms);
      const width = Math.max(0, at - previous);
      row.append(
        svg("rect", {
          x: x0 + scale(start), y: y + 6, width: Math.max(1.5, scale(width)), height: 14, rx: 1.5,
          fill: cssVar(colour), class: "wf-seg", "data-stage": mark,
        }, svg("title", {}, `${label}: +${fmtMs(width)} (at ${fmtMs(at - t.speech_end_ms)})`)),
      );
      previous = Math.max(previous, at);
    }
    const ttfa = isNum(t.ttfa_ms) ? t.ttfa_ms : isNum(t.first_audio_sent_ms) ? t.first_audio_sent_ms - t.speech_end_ms : null;
    row.append(svg("text", { x: W - valueW + 8, y: y + 16, class: "num wf-ttfa", "font-weight": 600, fill: "#1b1f24" }, fmtMs(ttfa)));
    root.append(row);
  });
  if (!turns.length) root.append(svg("text", { x: W / 2, y: 14, "text-anchor": "middle" }, "no caller turns"));
  return root;
}

export function stageLegend() {
  return el(
    "div",
    { class: "legend" },
    STAGES.map(([, label, colour]) => el("span", {}, el("i", { style: { background: cssVar(colour) } }), label)),
  );
}

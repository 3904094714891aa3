// The campaigns page (admins): GET /v1/campaigns every few seconds, with pause/resume/cancel.

import { el, setActiveNav } from "./common.js";

setActiveNav("campaigns");

const OPEN = ["pending", "dialing", "in_call"];

function bar(progress) {
  const total = Object.values(progress).reduce((a, b) => a + b, 0) || 1;
  const open = OPEN.reduce((sum, key) => sum + (progress[key] || 0), 0);
  const percent = Math.round((100 * (total - open)) / total);
  return el("span", { title: `${total - open} of ${total} contacts settled` }, `${percent}%`);
}

async function control(id, action) {
  await fetch(`/v1/campaigns/${id}/${action}`, { method: "POST" });
  load();
}

function button(id, action) {
  const b = el("button", { type: "button", "data-action": action }, action);
  b.addEventListener("click", () => control(id, action));
  return b;
}

async function load() {
  const rows = document.getElementById("campaign-rows");
  const response = await fetch("/v1/campaigns", { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = document.getElementById("campaign-error");
    error.textContent = `the campaigns could not be read (HTTP ${response.status})`;
    error.classList.remove("hidden");
    return;
  }
  const { campaigns } = await response.json();
  rows.replaceChildren(
    ...campaigns.map((c) => {
      const p = c.progress;
      const actions = [];
      if (c.status === "running") actions.push(button(c.campaign_id, "pause"));
      if (c.status === "paused") actions.push(button(c.campaign_id, "resume"));
      if (["running", "paused", "scheduled"].includes(c.status)) {
        actions.push(button(c.campaign_id, "cancel"));
      }
      return el(
        "tr",
        { "data-campaign": c.campaign_id },
        el("td", {}, c.name),
        el("td", {}, c.status),
        el("td", {}, bar(p)),
        el("td", {}, String(p.done || 0)),
        el("td", {}, String(p.failed || 0)),
        el("td", {}, String(p.skipped || 0)),
        el("td", {}, ...actions),
      );
    }),
  );
}

load();
setInterval(load, 5000);

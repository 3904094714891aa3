// The campaigns page (admins): a form that creates a campaign, and GET /v1/campaigns every few
// seconds with pause/resume/cancel. `body.dataset.refreshes` counts redraws (for tests).

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

let agentsShown = false;

function showAgents(agents) {
  if (agentsShown) return;
  agentsShown = true;
  const select = document.getElementById("agent-choice");
  for (const name of agents || []) select.append(el("option", { value: name }, name));
}

async function create(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = {
    name: data.get("name"),
    from: data.get("from"),
    purpose: data.get("purpose"),
    contacts_csv: data.get("contacts_csv"),
    concurrency: Number(data.get("concurrency")),
    pace_s: Number(data.get("pace_s")),
    max_attempts: Number(data.get("max_attempts")),
  };
  if (data.get("agent")) body.agent = data.get("agent");
  // A local date and time from the browser, sent as epoch seconds (the API's schedule).
  if (data.get("starts_at")) body.starts_at = new Date(data.get("starts_at")).getTime() / 1000;
  const result = document.getElementById("create-result");
  const response = await fetch("/v1/campaigns", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) {
    const n = answer.rejected.length;
    const rejected = n ? `, ${n} ${n === 1 ? "row" : "rows"} rejected` : "";
    result.textContent = `started with ${answer.contacts} contacts${rejected}`;
    form.reset();
  } else {
    result.textContent = `not started: ${answer.message || `HTTP ${response.status}`}`;
  }
  result.dataset.ok = String(response.ok);
  load();
}

document.getElementById("create-campaign").addEventListener("submit", create);

async function load() {
  const rows = document.getElementById("campaign-rows");
  const response = await fetch("/v1/campaigns", { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = document.getElementById("campaign-error");
    error.textContent = `the campaigns could not be read (HTTP ${response.status})`;
    error.classList.remove("hidden");
    return;
  }
  const { campaigns, agents } = await response.json();
  showAgents(agents);
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
        el("td", {}, c.agent || "served agent"),
        el("td", { "data-status": c.status }, c.status),
        el("td", {}, bar(p)),
        el("td", {}, String(p.done || 0)),
        el("td", {}, String(p.failed || 0)),
        el("td", {}, String(p.skipped || 0)),
        el("td", {}, ...actions),
      );
    }),
  );
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

load();
setInterval(load, 2000);

// The access audit page (admins): the newest entries of GET /v1/audit.

import { el, setActiveNav } from "./common.js";

setActiveNav("audit");

async function load() {
  const rows = document.getElementById("audit-rows");
  const response = await fetch("/v1/audit?limit=500", { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = document.getElementById("audit-error");
    error.textContent = `the audit log could not be read (HTTP ${response.status})`;
    error.classList.remove("hidden");
    return;
  }
  const { entries } = await response.json();
  rows.replaceChildren(
    ...entries.map((e) =>
      el(
        "tr",
        { "data-action": e.action },
        el("td", {}, new Date(e.at * 1000).toLocaleString()),
        el("td", {}, e.actor),
        el("td", {}, e.actor_kind),
        el("td", {}, e.action),
        el("td", {}, e.target || ""),
        el("td", {}, e.address || ""),
      ),
    ),
  );
}

load();

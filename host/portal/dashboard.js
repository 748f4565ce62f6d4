// hookmesh operator dashboard: every project at a glance, for the admin
// token. The token is typed once and kept in this module's memory only
// (never stored, never in a URL). Values are set as text, never as HTML.

import { call, fill, h, percent } from "/portal/common.js";

let token = null;

function show(...nodes) {
  fill(document.getElementById("main"), ...nodes);
}

async function api(method, path, body) {
  const { status, ok, body: parsed } = await call(token, method, path, body);
  if (!ok) {
    const error = new Error((parsed && parsed.message) || `HTTP ${status}`);
    error.status = status;
    throw error;
  }
  return parsed;
}

function age(ms) {
  if (!ms) return "—";
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function login(message) {
  const input = h("input", { id: "admin-token", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    { class: "card" },
    h("label", { for: "admin-token" }, "Admin token"),
    input,
    h("div", { class: "row" }, h("button", { type: "submit" }, "Open dashboard")),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    token = input.value.trim();
    load();
  });
  show(h("h1", {}, "Operator dashboard"), form);
  input.focus();
}

/** One project's row: volume and health over 24 h, its endpoints and queues. */
async function projectRow(project, queues) {
  const id = encodeURIComponent(project.id);
  const [stats, hooks] = await Promise.all([
    api("GET", `/projects/${id}/stats?window=24h`),
    api("GET", `/projects/${id}/integrations/webhooks`),
  ]);
  const mine = hooks.data.map((e) => e.id);
  const queued = queues.filter((q) => mine.includes(q.endpoint_id));
  const depth = queued.reduce((sum, q) => sum + q.depth, 0);
  const oldest = queued.map((q) => q.oldest_at).filter(Boolean).sort((a, b) => a - b)[0];
  const disabled = hooks.data.filter((e) => !e.active).length;
  const total = stats.total || {};
  const portal = h("button", { type: "button", class: "secondary" }, "Open portal");
  portal.addEventListener("click", async () => {
    try {
      const session = await api("POST", `/projects/${id}/portal/sessions`, { expires_in: "1h" });
      window.open(session.url, "_blank", "noopener");
    } catch (error) {
      portal.replaceWith(h("span", { class: "bad" }, error.message));
    }
  });
  return h(
    "tr",
    { "data-project": project.id },
    h("td", { "data-label": "Project" }, project.name, project.name !== project.id ? h("div", { class: "muted" }, project.id) : null),
    h("td", { "data-label": "Attempts (24 h)", "data-testid": "volume" }, total.attempts ?? 0),
    h("td", { "data-label": "Success" }, percent(total.success_rate)),
    h("td", { "data-label": "Failed (24 h)", class: total.failures ? "bad" : "" }, total.failures ?? 0),
    h("td", { "data-label": "Endpoints" }, `${hooks.data.length}${disabled ? ` (${disabled} disabled)` : ""}`),
    h("td", { "data-label": "Queued" }, depth),
    h("td", { "data-label": "Oldest queued" }, age(oldest)),
    h("td", {}, portal),
  );
}

async function load() {
  show(h("h1", {}, "Operator dashboard"), h("p", { class: "muted" }, "Loading…"));
  try {
    const [projects, queues] = await Promise.all([api("GET", "/projects"), api("GET", "/queues")]);
    const rows = await Promise.all(projects.data.map((p) => projectRow(p, queues.data)));
    const depth = queues.data.reduce((sum, q) => sum + q.depth, 0);
    show(
      h("h1", {}, "Operator dashboard"),
      h("p", { class: "muted" }, `${projects.data.length} projects · ${depth} deliveries queued`),
      h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: load }, "Refresh")),
      h(
        "table",
        { "data-testid": "projects" },
        h("thead", {}, h("tr", {}, ["Project", "Attempts (24 h)", "Success", "Failed (24 h)", "Endpoints", "Queued", "Oldest queued", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows),
      ),
    );
  } catch (error) {
    token = null;
    login(error.status === 401 || error.status === 403 ? "That is not the admin token." : error.message);
  }
}

login();

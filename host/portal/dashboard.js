// hookmesh operator dashboard: every project at a glance, for the admin
// token. The token is typed once and kept in this module's memory only
// (never stored, never in a URL). Values are set as text, never as HTML.

import { call, fill, h, percent } from "/portal/common.js";

let token = null;
/** The stats window of the volume, success and dead-letter columns. */
let statsWindow = "24h";

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

/**
 * One project's row: volume, health and dead letters over the window, its
 * endpoints and queues. Dead letters are deliveries that failed for good
 * (the stats' `failures`: attempts that gave up) in the window.
 */
async function projectRow(project, queues) {
  const id = encodeURIComponent(project.id);
  const [stats, hooks] = await Promise.all([
    api("GET", `/projects/${id}/stats?window=${statsWindow}`),
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
  const row = h(
    "tr",
    { "data-project": project.id },
    h("td", { "data-label": "Project" }, project.name, project.name !== project.id ? h("div", { class: "muted" }, project.id) : null),
    h("td", { "data-label": `Attempts (${statsWindow})`, "data-testid": "volume" }, total.attempts ?? 0),
    h("td", { "data-label": "Success" }, percent(total.success_rate)),
    h("td", { "data-label": `Dead letters (${statsWindow})`, "data-testid": "dead-letters", class: total.failures ? "bad" : "" }, total.failures ?? 0),
    h("td", { "data-label": "Endpoints" }, `${hooks.data.length}${disabled ? ` (${disabled} disabled)` : ""}`),
    h("td", { "data-label": "Queued" }, depth),
    h("td", { "data-label": "Oldest queued" }, age(oldest)),
    h("td", {}, portal),
  );
  return { row, attempts: total.attempts ?? 0, deadLetters: total.failures ?? 0 };
}

async function load() {
  show(h("h1", {}, "Operator dashboard"), h("p", { class: "muted" }, "Loading…"));
  try {
    const [projects, queues] = await Promise.all([api("GET", "/projects"), api("GET", "/queues")]);
    const rows = await Promise.all(projects.data.map((p) => projectRow(p, queues.data)));
    const depth = queues.data.reduce((sum, q) => sum + q.depth, 0);
    const dead = rows.reduce((sum, r) => sum + r.deadLetters, 0);
    const pick = h(
      "select",
      { id: "window" },
      ["1h", "24h", "7d", "30d"].map((w) => h("option", { value: w, selected: w === statsWindow }, w)),
    );
    pick.addEventListener("change", () => {
      statsWindow = pick.value;
      load();
    });
    show(
      h("h1", {}, "Operator dashboard"),
      h(
        "p",
        { class: "muted", "data-testid": "summary" },
        `${projects.data.length} projects · ${depth} deliveries queued · `,
        h("span", { class: dead ? "bad" : "" }, `${dead} dead letter${dead === 1 ? "" : "s"} (${statsWindow})`),
      ),
      h(
        "div",
        { class: "row" },
        h("label", { for: "window", class: "inline" }, "Window"),
        pick,
        h("button", { type: "button", class: "secondary", onclick: load }, "Refresh"),
      ),
      h(
        "table",
        { "data-testid": "projects" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            [`Project`, `Attempts (${statsWindow})`, "Success", `Dead letters (${statsWindow})`, "Endpoints", "Queued", "Oldest queued", ""].map((t) =>
              h("th", {}, t),
            ),
          ),
        ),
        h("tbody", {}, rows.map((r) => r.row)),
      ),
      h("p", { class: "muted" }, "Dead letters: deliveries that failed for good in the window (replay or recover them in the project's portal)."),
    );
  } catch (error) {
    token = null;
    login(error.status === 401 || error.status === 403 ? "That is not the admin token." : error.message);
  }
}

login();

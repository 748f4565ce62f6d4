// hookmesh portal: the page a SaaS hands to its customers.
//
// The session token arrives in the URL fragment (never sent to a server,
// never logged), is removed from the address bar at once and kept in this
// module's memory only. Every action is a call to hookmesh's public API
// with that token as a bearer credential: the server decides what the
// session may do. Every value shown is set as text (textContent, attribute
// values), never parsed as HTML.

import { call, fill, h, percent } from "./common.js";

const state = {
  token: null,
  project: null,
  readOnly: false,
  view: null,
};

// ---------------------------------------------------------------- DOM

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function show(...nodes) {
  const main = document.getElementById("main");
  fill(main, ...nodes);
  main.focus({ preventScroll: true });
}

function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 3000);
}

function time(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toLocaleString();
}

function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error.message || String(error));
}

/** A button shown only to sessions that may change things. */
function action(label, onclick, cls = "") {
  if (state.readOnly) return null;
  return h("button", { type: "button", class: cls, onclick }, label);
}

/** A secret shown once, with a copy button. */
function secretOnce(title, value) {
  const copy = h("button", { type: "button", class: "secondary" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
      toast("Copied");
    } catch {
      toast("Select the text and copy it");
    }
  });
  return h(
    "div",
    { class: "card", "data-secret": "" },
    h("strong", {}, title),
    h("p", { class: "muted" }, "Shown once: store it now."),
    h("div", { class: "secret" }, h("code", { "data-testid": "secret" }, value), copy),
  );
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${body.message}` : `HTTP ${status}`);
    this.status = status;
    this.field = body && body.field;
  }
}

async function api(method, path, body) {
  const { status, ok, body: parsed } = await call(state.token, method, path, body);
  if (status === 401) {
    ended(parsed && parsed.message);
    throw new ApiError(401, parsed);
  }
  if (!ok) throw new ApiError(status, parsed);
  return parsed;
}

const project = (rest = "") => `/projects/${encodeURIComponent(state.project)}${rest}`;
const hooks = (rest = "") => project(`/integrations/webhooks${rest}`);

/** The session is over (expired, revoked, or never valid). */
function ended(message) {
  state.token = null;
  document.getElementById("nav").replaceChildren();
  show(
    h("h1", {}, "This session has ended"),
    h("p", {}, message || "The link has expired or was revoked."),
    h("p", { class: "muted" }, "Open the webhooks page again from the application to get a new one."),
  );
}

// ---------------------------------------------------------------- start

function readFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, "", location.pathname + location.search);
  return { token: params.get("token"), project: params.get("project") };
}

function applyTheme(theme) {
  if (!theme) return;
  const product = document.getElementById("product");
  if (theme.product_name) {
    product.textContent = theme.product_name;
    document.title = `${theme.product_name} — Webhooks`;
  }
  if (theme.logo_url) product.prepend(h("img", { src: theme.logo_url, alt: "" }));
  if (theme.accent_color) document.documentElement.style.setProperty("--accent", theme.accent_color);
}

async function start() {
  const { token, project: fromFragment } = readFragment();
  if (!token) {
    ended("This page opens from a session link; none was given.");
    return;
  }
  state.token = token;
  try {
    const session = await api("GET", "/portal/session");
    state.project = session.project_id;
    state.readOnly = session.read_only;
    applyTheme(session.theme);
  } catch (error) {
    if (error.status === 401) return;
    if (!fromFragment) {
      show(errorBox(error));
      return;
    }
    state.project = fromFragment; // a project key instead of a session
  }
  const badge = document.getElementById("badge");
  badge.textContent = state.readOnly ? `${state.project} · read only` : state.project;
  badge.hidden = false;
  nav();
  observeHeight();
  endpoints();
}

function nav() {
  const items = [
    ["Endpoints", endpoints],
    ["Event log", eventLog],
    ["Providers", () => providers()],
  ];
  const buttons = items.map(([label, view]) =>
    h("button", { type: "button", "data-view": label, onclick: () => view() }, label),
  );
  document.getElementById("nav").replaceChildren(...buttons);
}

function current(label) {
  for (const b of document.querySelectorAll("#nav button")) {
    if (b.dataset.view === label) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
}

/** Tells an embedding page how tall the portal is. */
function observeHeight() {
  if (window.parent === window) return;
  const report = () =>
    window.parent.postMessage({ type: "hookmesh:resize", height: document.documentElement.scrollHeight }, "*");
  new ResizeObserver(report).observe(document.body);
  report();
}

// ---------------------------------------------------------------- endpoints

async function endpoints() {
  current("Endpoints");
  show(h("h1", {}, "Endpoints"), h("p", { class: "muted" }, "Loading…"));
  try {
    const [list, stats] = await Promise.all([api("GET", hooks()), api("GET", project("/stats?window=24h"))]);
    const health = new Map((stats.endpoints || []).map((row) => [row.endpoint_id, row]));
    const rows = list.data.map((ep) => endpointRow(ep, health.get(ep.id)));
    show(
      h("h1", {}, "Endpoints"),
      h("div", { class: "row" }, action("Add endpoint", addEndpoint)),
      list.data.length === 0
        ? h("p", { class: "muted" }, "No endpoints yet.")
        : h(
            "table",
            { "data-testid": "endpoints" },
            h("thead", {}, h("tr", {}, ["URL", "Events", "State", "Success (24 h)", "Failing since"].map((t) => h("th", {}, t)))),
            h("tbody", {}, rows),
          ),
    );
  } catch (error) {
    if (error.status !== 401) show(h("h1", {}, "Endpoints"), errorBox(error));
  }
}

function endpointRow(ep, health) {
  const open = () => endpoint(ep.id);
  const stateText = ep.active ? "active" : `disabled${ep.disabled_reason ? `: ${ep.disabled_reason}` : ""}`;
  return h(
    "tr",
    {
      class: "link",
      tabindex: 0,
      "data-endpoint": ep.id,
      onclick: open,
      onkeydown: (e) => e.key === "Enter" && open(),
    },
    h("td", { "data-label": "URL", class: "url" }, ep.url, ep.provider && ep.provider !== "webhook" ? h("div", { class: "muted" }, ep.provider) : null),
    h("td", { "data-label": "Events" }, ep.events.join(", ")),
    h("td", { "data-label": "State", class: ep.active ? "ok" : "bad" }, stateText),
    h("td", { "data-label": "Success" }, percent(health && health.success_rate)),
    h("td", { "data-label": "Failing since", class: ep.failing_since ? "bad" : "" }, ep.failing_since ? time(ep.failing_since) : "—"),
  );
}

async function eventTypes() {
  try {
    const catalogue = await api("GET", project("/integrations/events"));
    const names = (catalogue.data || []).map((t) => t.name || t.type).filter(Boolean);
    return ["*", ...new Set(names)];
  } catch {
    return ["*"];
  }
}

/** The providers an endpoint can deliver through, with their manifests. */
async function outboundProviders() {
  try {
    const list = await api("GET", providerPath());
    return list.data.filter((p) => !p.instance && p.manifest.capabilities.includes("outbound"));
  } catch {
    return [];
  }
}

/** The endpoint form: a new endpoint, or `ep` to change. */
async function endpointForm(ep = null) {
  const [types, outbound] = await Promise.all([eventTypes(), outboundProviders()]);
  for (const t of ep ? ep.events : []) if (!types.includes(t)) types.push(t);
  const chosen = new Set(ep ? ep.events : ["*"]);
  const form = h("form", { "data-testid": ep ? "edit-endpoint" : "add-endpoint" });
  const field = (label, input) => [h("label", { for: input.id }, label), input];
  const url = h("input", { id: "ep-url", type: "url", required: true, placeholder: "https://example.com/webhooks", value: ep ? ep.url : "" });
  const checks = h(
    "div",
    { class: "checks", role: "group", "aria-label": "Events" },
    types.map((t) =>
      h("label", {}, h("input", { type: "checkbox", name: "events", value: t, checked: chosen.has(t) }), t),
    ),
  );
  const secret = ep ? null : h("input", { id: "ep-secret", autocomplete: "off", placeholder: "leave empty to generate one" });
  const description = h("input", { id: "ep-description", value: ep ? ep.description : "" });
  const rate = h("input", { id: "ep-rate", placeholder: "e.g. 10/s (optional)", value: (ep && ep.rate_limit) || "" });
  const ordered = h("input", { id: "ep-ordered", type: "checkbox", checked: ep ? ep.ordered : true });
  const filterText = ep && Object.keys(ep.filter || {}).length ? JSON.stringify(ep.filter, null, 2) : "";
  const filter = h("textarea", { id: "ep-filter", placeholder: '{"payload.plan": "pro"} (optional)' }, filterText);
  // The provider (chosen when adding; fixed after) and its settings for
  // this endpoint, from its manifest: non-secret fields only (secrets are
  // the project's, under Providers).
  const chosenProvider = ep ? ep.provider : "webhook";
  const providerNames = [...new Set(["webhook", chosenProvider, ...outbound.map((p) => p.name)])];
  const providerPick = ep
    ? null
    : h("select", { id: "ep-provider" }, providerNames.map((n) => h("option", { value: n, selected: n === chosenProvider }, n)));
  const settings = h("div", { "data-testid": "endpoint-config" });
  let editor = null;
  const showSettings = (name) => {
    const manifest = (outbound.find((p) => p.name === name) || {}).manifest;
    const values = ep && name === ep.provider ? ep.config || {} : {};
    if (!manifest) {
      editor = null;
      settings.replaceChildren();
      return;
    }
    editor = configEditor(manifest.config_fields, values, { secrets: false, id: "ep-config" });
    const secretNames = manifest.config_fields.filter((f) => f.secret).map((f) => f.name);
    const body = [
      h("p", { class: "muted" }, `Settings of provider “${name}” for this endpoint; they override the project's (Providers).`),
      secretNames.length
        ? h(
            "p",
            { class: "muted" },
            "Secret settings (",
            secretNames.map((n, i) => [i ? ", " : "", h("code", {}, n)]),
            ") are set once for the project under Providers.",
          )
        : null,
      editor.nodes.length ? editor.nodes : h("p", { class: "muted" }, "No settings."),
    ];
    // The generic webhook's settings are optional extras: folded away.
    const open = name !== "webhook" || Object.keys(values).length > 0;
    settings.replaceChildren(h("details", { open }, h("summary", {}, `${name} settings`), body));
  };
  showSettings(chosenProvider);
  if (providerPick) providerPick.addEventListener("change", () => showSettings(providerPick.value));
  const result = h("div");
  const submit = ep ? "Save changes" : "Add endpoint";
  const cancel = ep ? () => endpoint(ep.id) : endpoints;
  form.append(
    ...(providerPick ? field("Provider", providerPick) : [h("p", { class: "muted" }, `Provider: ${chosenProvider}`)]),
    ...field("URL", url),
    h("label", {}, "Events"),
    checks,
    ...(secret ? field("Signing secret", secret) : []),
    ...field("Description", description),
    ...field("Rate limit", rate),
    h("label", {}, ordered, " Deliver in order"),
    ...field("Filter (JSON)", filter),
    settings,
    h("div", { class: "row" }, h("button", { type: "submit" }, submit), h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel")),
    result,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      url: url.value.trim(),
      events: [...checks.querySelectorAll("input:checked")].map((c) => c.value),
      ordered: ordered.checked,
      description: description.value.trim(),
    };
    if (providerPick) body.provider = providerPick.value;
    if (editor) body.config = editor.values();
    if (secret && secret.value.trim()) body.secret = secret.value.trim();
    if (rate.value.trim()) body.rate_limit = rate.value.trim();
    else if (ep) body.rate_limit = null;
    try {
      body.filter = filter.value.trim() ? JSON.parse(filter.value) : {};
      if (ep) {
        await api("PUT", hooks(`/${ep.id}`), body);
        toast("Saved");
        endpoint(ep.id);
        return;
      }
      const created = await api("POST", hooks(), body);
      show(
        h("h1", {}, "Endpoint added"),
        h("p", { class: "url" }, created.url),
        secretOnce("Signing secret", created.secret),
        h("div", { class: "row" }, h("button", { type: "button", onclick: () => endpoint(created.id) }, "Open endpoint")),
      );
    } catch (error) {
      result.replaceChildren(errorBox(error));
    }
  });
  show(h("h1", {}, ep ? "Edit endpoint" : "Add endpoint"), form);
}

const addEndpoint = () => endpointForm();

// ---------------------------------------------------------------- one endpoint

async function endpoint(id, window = "24h") {
  current("Endpoints");
  try {
    const [ep, stats] = await Promise.all([api("GET", hooks(`/${id}`)), api("GET", hooks(`/${id}/stats?window=${window}`))]);
    const log = h("div", { "data-testid": "delivery-log" });
    const controls = h(
      "div",
      { class: "row" },
      action("Edit", () => endpointForm(ep), "secondary"),
      action(ep.active ? "Disable" : "Enable", () => setActive(ep, !ep.active), "secondary"),
      action("Rotate secret", () => rotate(ep), "secondary"),
      action("Send test event", () => testEvent(ep), "secondary"),
      action("Recover failed", () => recover(ep), "secondary"),
      action("Delete", () => remove(ep), "danger"),
    );
    show(
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: endpoints }, "← Endpoints")),
      h("h1", { class: "url" }, ep.url),
      h(
        "p",
        { class: "muted" },
        `${ep.active ? "Active" : "Disabled"} · ${ep.provider && ep.provider !== "webhook" ? `provider ${ep.provider} · ` : ""}events ${ep.events.join(", ")} · ${ep.ordered ? "ordered" : "unordered"}`,
        ep.rate_limit ? ` · ${ep.rate_limit}` : "",
      ),
      ep.disabled_reason ? h("p", { class: "bad" }, ep.disabled_reason) : null,
      controls,
      h("div", { id: "panel" }),
      health(stats, (w) => endpoint(id, w), window),
      h("h2", {}, "Deliveries"),
      log,
    );
    deliveries(ep, log);
  } catch (error) {
    if (error.status !== 401) show(errorBox(error));
  }
}

function panel(...nodes) {
  const el = document.getElementById("panel");
  el.replaceChildren(...nodes);
  return el;
}

async function setActive(ep, active) {
  try {
    await api("PUT", hooks(`/${ep.id}`), { active });
    toast(active ? "Enabled" : "Disabled");
    endpoint(ep.id);
  } catch (error) {
    panel(errorBox(error));
  }
}

function rotate(ep) {
  const grace = h(
    "select",
    { id: "grace" },
    ["0s", "1h", "24h", "7d"].map((g) => h("option", { value: g, selected: g === "24h" }, g === "0s" ? "none: at once" : g)),
  );
  const go = h("button", { type: "button" }, "Rotate");
  go.addEventListener("click", async () => {
    try {
      const rotated = await api("POST", hooks(`/${ep.id}/rotate`), { grace: grace.value });
      panel(secretOnce("New signing secret", rotated.secret), h("p", { class: "muted" }, grace.value === "0s" ? "The old secret no longer signs." : `The old secret also signs for ${grace.value}.`));
    } catch (error) {
      panel(errorBox(error));
    }
  });
  panel(h("div", { class: "card" }, h("label", { for: "grace" }, "Keep the old secret signing for"), grace, h("div", { class: "row" }, go)));
}

async function testEvent(ep) {
  const types = (await eventTypes()).filter((t) => t !== "*");
  const type = h("select", { id: "test-type" }, h("option", { value: "" }, "test.ping"), types.map((t) => h("option", { value: t }, t)));
  const payload = h("textarea", { id: "test-payload" }, '{\n  "example": true\n}');
  const answer = h("div", { "data-testid": "test-answer" });
  const send = h("button", { type: "button" }, "Send");
  send.addEventListener("click", async () => {
    const body = {};
    if (type.value) body.event = type.value;
    try {
      if (payload.value.trim()) body.payload = JSON.parse(payload.value);
      if (!body.event) body.event = "test.ping";
      const result = await api("POST", hooks(`/${ep.id}/test`), body);
      answer.replaceChildren(
        h("p", { class: result.ok ? "ok" : "bad", "data-testid": "test-verdict" }, result.ok ? "Delivered" : "Not delivered", ` · status ${result.status ?? "none"} · ${result.duration_ms} ms`),
        result.error ? h("p", { class: "bad" }, result.error) : null,
        result.body_excerpt ? h("pre", {}, result.body_excerpt) : null,
        result.delivery_id ? h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: () => delivery(ep, result.delivery_id) }, "Open in the log")) : null,
      );
      deliveries(ep, document.querySelector("[data-testid=delivery-log]"));
    } catch (error) {
      answer.replaceChildren(errorBox(error));
    }
  });
  panel(h("div", { class: "card" }, h("label", { for: "test-type" }, "Event type"), type, h("label", { for: "test-payload" }, "Payload (JSON)"), payload, h("div", { class: "row" }, send), answer));
}

function recover(ep) {
  const since = h("input", { id: "recover-since", type: "datetime-local" });
  const go = h("button", { type: "button" }, "Redeliver failed");
  go.addEventListener("click", async () => {
    const ms = since.value ? new Date(since.value).getTime() : Date.now() - 24 * 3600 * 1000;
    try {
      const result = await api("POST", hooks(`/${ep.id}/recover`), { since: ms });
      panel(h("p", { class: "ok" }, `Queued again: ${result.replayed}`));
      deliveries(ep, document.querySelector("[data-testid=delivery-log]"));
    } catch (error) {
      panel(errorBox(error));
    }
  });
  panel(h("div", { class: "card" }, h("label", { for: "recover-since" }, "Failed since (default: 24 h ago)"), since, h("div", { class: "row" }, go)));
}

function remove(ep) {
  const go = h("button", { type: "button", class: "danger" }, "Delete for good");
  go.addEventListener("click", async () => {
    try {
      await api("DELETE", hooks(`/${ep.id}`));
      toast("Endpoint deleted");
      endpoints();
    } catch (error) {
      panel(errorBox(error));
    }
  });
  panel(h("div", { class: "card" }, h("p", {}, "Delete this endpoint? Queued deliveries end as failed."), h("div", { class: "row" }, go, h("button", { type: "button", class: "secondary", onclick: () => panel() }, "Keep it"))));
}

// ---------------------------------------------------------------- deliveries

async function deliveries(ep, into, status = "") {
  if (!into) return;
  const filter = h(
    "select",
    { "aria-label": "Status" },
    ["", "pending", "succeeded", "failed"].map((s) => h("option", { value: s, selected: s === status }, s || "all")),
  );
  filter.addEventListener("change", () => deliveries(ep, into, filter.value));
  try {
    const page = await api("GET", hooks(`/${ep.id}/deliveries?limit=50${status ? `&status=${status}` : ""}`));
    const rows = page.data.map((d) =>
      h(
        "tr",
        { class: "link", tabindex: 0, "data-delivery": d.id, "data-status": d.status, onclick: () => delivery(ep, d.id), onkeydown: (e) => e.key === "Enter" && delivery(ep, d.id) },
        h("td", { "data-label": "Status", class: statusClass(d.status) }, d.status),
        h("td", { "data-label": "Event" }, d.event_id, testTag(d.test)),
        h("td", { "data-label": "Attempts" }, d.attempts),
        h("td", { "data-label": "Last status" }, d.last_status_code ?? "—"),
        h("td", { "data-label": "Created" }, time(d.created_at)),
      ),
    );
    into.replaceChildren(
      h("div", { class: "row" }, filter),
      rows.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["Status", "Event", "Attempts", "Last status", "Created"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
        : h("p", { class: "muted" }, "No deliveries."),
    );
  } catch (error) {
    if (error.status !== 401) into.replaceChildren(errorBox(error));
  }
}

/** The mark of a test send (`POST …/test`) in the logs. */
function testTag(isTest) {
  return isTest ? [" ", h("span", { class: "tag", "data-testid": "test-tag", title: "Sent with “Send test event”" }, "test")] : null;
}

function statusClass(status) {
  return { succeeded: "ok", failed: "bad", pending: "warn" }[status] || "";
}

async function delivery(ep, id) {
  try {
    const d = await api("GET", hooks(`/${ep.id}/deliveries/${id}`));
    const replay = action("Replay", async () => {
      try {
        await api("POST", hooks(`/${ep.id}/deliveries/${id}/replay`));
        toast("Replay queued");
        endpoint(ep.id);
      } catch (error) {
        panel(errorBox(error));
      }
    });
    show(
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => endpoint(ep.id) }, "← Endpoint")),
      h("h1", {}, `Delivery ${d.id}`),
      h("p", { class: statusClass(d.status), "data-testid": "delivery-status" }, d.status, ` · event ${d.event_id} · ${d.attempts} attempt(s)`, testTag(d.test)),
      h("div", { class: "row" }, replay),
      h("div", { id: "panel" }),
      (d.attempt_log || []).map(attemptCard),
    );
  } catch (error) {
    if (error.status !== 401) show(errorBox(error));
  }
}

function attemptCard(a) {
  const headers = (list) => (list || []).map((x) => `${x.name}: ${x.value}`).join("\n");
  return h(
    "div",
    { class: "card", "data-attempt": a.number },
    h("strong", {}, `Attempt ${a.number}`),
    h("p", { class: a.outcome === "success" ? "ok" : "bad" }, `${a.outcome} · status ${a.status_code ?? "none"} · ${a.duration_ms} ms · ${time(a.started_at)}`),
    a.error ? h("p", { class: "bad" }, a.error) : null,
    (a.requests || []).map((r) => [h("h2", {}, `Request: ${r.method} `, h("span", { class: "url" }, r.url)), h("pre", {}, headers(r.headers)), h("p", { class: "muted" }, `${r.body_bytes} bytes · sha256 ${r.body_sha256}`)]),
    h("h2", {}, "Response"),
    h("pre", {}, headers(a.response_headers) || "(no headers)"),
    h("pre", { "data-testid": "response-excerpt" }, a.response_excerpt || "(empty body)"),
  );
}

// ---------------------------------------------------------------- health

function health(stats, reload, window) {
  const pick = h(
    "select",
    { "aria-label": "Window" },
    ["1h", "24h", "7d"].map((w) => h("option", { value: w, selected: w === window }, w)),
  );
  pick.addEventListener("change", () => reload(pick.value));
  const latency = stats.latency_ms || {};
  return h(
    "section",
    { "aria-label": "Health" },
    h("h2", {}, "Health ", pick),
    h(
      "div",
      { class: "stats" },
      h("div", {}, "Success", h("span", {}, percent(stats.success_rate))),
      h("div", {}, "Attempts", h("span", {}, stats.attempts ?? 0)),
      h("div", {}, "p50", h("span", {}, latency.p50 === undefined || latency.p50 === null ? "—" : `${latency.p50} ms`)),
      h("div", {}, "p99", h("span", {}, latency.p99 === undefined || latency.p99 === null ? "—" : `${latency.p99} ms`)),
    ),
    volumeChart(stats.series || []),
  );
}

/** Stacked bars per bucket: successes, retries, failures. */
function volumeChart(series) {
  const width = 600;
  const height = 110;
  const max = Math.max(1, ...series.map((b) => b.attempts));
  const step = width / Math.max(1, series.length);
  const bars = series.flatMap((b, i) => {
    let y = height;
    return [
      ["ok", b.successes],
      ["warn", b.retries],
      ["bad", b.failures],
    ].map(([cls, n]) => {
      const barHeight = (n / max) * (height - 10);
      y -= barHeight;
      return n ? svg("rect", { class: cls, x: i * step, y, width: Math.max(1, step - 1), height: barHeight }) : null;
    });
  });
  return svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Volume: up to ${max} attempts per interval` },
    svg("title", {}, "Attempts per interval: successes, retries, failures"),
    bars,
  );
}

// ---------------------------------------------------------------- provider fields

// A plugin's manifest declares its config fields: a name (a pattern such as
// `header.<Name>` stands for many keys), a description, whether it is
// secret (write-only: the API says only that it is set) and whether it is
// required. The provider settings form and the endpoint form are built
// from that list; every value is text.

/** A manifest's text with its `code` spans as <code> (all of it text). */
function described(text) {
  return (text || "").split("`").map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

const fieldId = (prefix, name) => `${prefix}-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`;

/** `header.<Name>` → `{prefix: "header.", placeholder: "Name"}`; null for a plain field. */
function pattern(name) {
  const at = name.indexOf("<");
  if (at < 0) return null;
  return { prefix: name.slice(0, at), placeholder: name.slice(at + 1, name.indexOf(">", at)) || "name" };
}

function fieldTags(field, secrets) {
  const tags = [];
  if (field.secret && secrets) tags.push("secret");
  if (field.required_for === "project") tags.push(field.one_of ? `required: one of “${field.one_of}”` : "required");
  else if (field.required_for === "endpoint") tags.push("required per endpoint");
  return tags.map((t) => h("span", { class: "tag" }, t));
}

/** A value input: a text area for JSON templates and multi-line values. */
function valueInput(attrs, value, field) {
  const multiLine = /JSON/.test(field.description || "") || (value || "").includes("\n");
  if (multiLine) return h("textarea", { ...attrs, rows: 4 }, value || "");
  return h("input", { ...attrs, type: "text", autocomplete: "off", spellcheck: "false", value: value || "" });
}

/**
 * Inputs for `fields` showing `values`: `{nodes, changes, values}`.
 * `changes()`: what to send to PUT …/providers/{p} (a value sets, null
 * removes, a key left out is kept: an empty secret input keeps the secret).
 * `values()`: the full map of non-empty values (an endpoint's config).
 * Options: `secrets` (offer secret fields, write-only), `secretsSet` (the
 * secret fields holding a value), `readOnly` (shown, not editable), `id`
 * (prefix of element ids).
 */
function configEditor(fields, values, { secrets = true, secretsSet = new Set(), readOnly = false, id = "cf" } = {}) {
  const readers = [];
  const nodes = [];
  for (const field of fields) {
    if (field.secret && !secrets) continue;
    const help = field.description ? h("p", { class: "help", id: fieldId(`${id}-help`, field.name) }, described(field.description)) : null;
    const describedBy = help ? help.id : null;
    const form = pattern(field.name);
    if (form) {
      nodes.push(patternField(field, form, values, { secretsSet, readOnly, id, help, readers }));
      continue;
    }
    const inputId = fieldId(id, field.name);
    const label = h("label", { for: inputId }, h("code", {}, field.name), " ", fieldTags(field, secrets));
    if (field.secret) {
      const isSet = secretsSet.has(field.name);
      const state = h("p", { class: isSet ? "ok" : "muted", "data-testid": "secret-state" }, isSet ? "set" : "not set");
      const input = readOnly
        ? null
        : h("input", {
            id: inputId,
            type: "password",
            autocomplete: "new-password",
            placeholder: isSet ? "leave empty to keep" : null,
            "aria-describedby": describedBy,
          });
      const remove = !readOnly && isSet ? h("input", { type: "checkbox", id: `${inputId}-remove` }) : null;
      nodes.push(
        h(
          "div",
          { class: "field", "data-field": field.name },
          readOnly ? h("p", { class: "label" }, h("code", {}, field.name), " ", fieldTags(field, secrets)) : label,
          help,
          state,
          input,
          remove ? h("label", { class: "inline", for: remove.id }, remove, " Remove this secret") : null,
        ),
      );
      readers.push({
        changes: (out) => {
          if (remove && remove.checked) out[field.name] = null;
          else if (input && input.value !== "") out[field.name] = input.value;
        },
        values: () => {},
      });
      continue;
    }
    const current = values[field.name];
    const input = valueInput({ id: inputId, "aria-describedby": describedBy, disabled: readOnly }, current, field);
    nodes.push(h("div", { class: "field", "data-field": field.name }, label, help, input));
    readers.push({
      changes: (out) => {
        if (input.value.trim() === "") {
          if (current !== undefined) out[field.name] = null;
        } else if (input.value !== current) out[field.name] = input.value;
      },
      values: (out) => {
        if (input.value.trim() !== "") out[field.name] = input.value;
      },
    });
  }
  const collect = (kind) => {
    const out = {};
    for (const reader of readers) reader[kind](out);
    return out;
  };
  return { nodes, changes: () => collect("changes"), values: () => collect("values") };
}

/** A pattern field (`header.<Name>`): one row per key set, and rows to add. */
function patternField(field, { prefix, placeholder }, values, { secretsSet, readOnly, id, help, readers }) {
  const rows = h("div", { class: "pairs" });
  const keys = new Set([...Object.keys(values), ...secretsSet]);
  for (const key of [...keys].filter((k) => k.startsWith(prefix)).sort()) {
    const inputId = fieldId(id, key);
    const current = field.secret ? undefined : values[key];
    const input = field.secret
      ? readOnly
        ? null
        : h("input", { id: inputId, type: "password", autocomplete: "new-password", placeholder: "leave empty to keep" })
      : valueInput({ id: inputId, disabled: readOnly }, current, field);
    const remove = readOnly ? null : h("input", { type: "checkbox", id: `${inputId}-remove` });
    rows.append(
      h(
        "div",
        { class: "pair", "data-key": key },
        h("label", { for: input ? inputId : null }, h("code", {}, key)),
        field.secret ? h("span", { class: "ok", "data-testid": "secret-state" }, "set") : null,
        input,
        remove ? h("label", { class: "inline", for: remove.id }, remove, " Remove") : null,
      ),
    );
    readers.push({
      changes: (out) => {
        if (remove && remove.checked) out[key] = null;
        else if (!input) return;
        else if (field.secret) {
          if (input.value !== "") out[key] = input.value;
        } else if (input.value.trim() === "") out[key] = null;
        else if (input.value !== current) out[key] = input.value;
      },
      values: (out) => {
        if (!(remove && remove.checked) && input && input.value.trim() !== "") out[key] = input.value;
      },
    });
  }
  let added = 0;
  const addRow = () => {
    added += 1;
    const nameId = fieldId(`${id}-new-${added}`, prefix);
    const name = h("input", { id: nameId, type: "text", autocomplete: "off", placeholder, "aria-label": `${prefix}<${placeholder}>: ${placeholder}` });
    const value = h("input", {
      type: field.secret ? "password" : "text",
      autocomplete: field.secret ? "new-password" : "off",
      placeholder: "value",
      "aria-label": `${prefix}<${placeholder}>: value`,
    });
    rows.append(h("div", { class: "pair new", "data-new": prefix }, h("code", {}, prefix), name, value));
    const read = (out) => {
      if (name.value.trim() !== "" && value.value !== "") out[`${prefix}${name.value.trim()}`] = value.value;
    };
    readers.push({ changes: read, values: read });
    return name;
  };
  if (!readOnly) addRow();
  const more = readOnly ? null : h("button", { type: "button", class: "secondary small", onclick: () => addRow().focus() }, `Add ${prefix}<${placeholder}>`);
  if (readOnly && !rows.childElementCount) rows.append(h("p", { class: "muted" }, "none set"));
  return h(
    "fieldset",
    { class: "field", "data-field": field.name },
    h("legend", {}, h("code", {}, field.name), " ", fieldTags(field, true)),
    help,
    rows,
    more,
  );
}

// ---------------------------------------------------------------- providers

const providerPath = (name = "", rest = "") =>
  project(`/integrations/providers${name ? `/${encodeURIComponent(name)}` : ""}${rest}`);

const PROVIDER_STATUS = {
  enabled: ["enabled", "ok"],
  disabled: ["disabled", "muted"],
  incomplete: ["incomplete", "warn"],
  not_configured: ["not configured", "muted"],
};

function providerStatus(p) {
  const [text, cls] = PROVIDER_STATUS[p.status] || [p.status, ""];
  const missing = p.status === "incomplete" && p.missing_required.length ? ` · needs ${p.missing_required.join(", ")}` : "";
  return h("span", { class: cls, "data-testid": "provider-status" }, text, missing);
}

async function providers() {
  current("Providers");
  show(h("h1", {}, "Providers"), h("p", { class: "muted" }, "Loading…"));
  try {
    const list = await api("GET", providerPath());
    const rows = list.data.map((p) => {
      const open = () => provider(p.name);
      return h(
        "tr",
        { class: "link", tabindex: 0, "data-provider": p.name, onclick: open, onkeydown: (e) => e.key === "Enter" && open() },
        h("td", { "data-label": "Provider" }, h("strong", {}, p.name)),
        h("td", { "data-label": "What it does" }, described(p.manifest.description)),
        h("td", { "data-label": "Direction" }, p.manifest.capabilities.join(", ")),
        h("td", { "data-label": "Status" }, providerStatus(p)),
      );
    });
    show(
      h("h1", {}, "Providers"),
      h(
        "p",
        { class: "muted" },
        "Integrations your endpoints deliver through (outbound) and sources that send you events (inbound). " +
          "Settings here apply to every endpoint of the provider; secrets are write-only.",
      ),
      rows.length
        ? h(
            "table",
            { "data-testid": "providers" },
            h("thead", {}, h("tr", {}, ["Provider", "What it does", "Direction", "Status"].map((t) => h("th", {}, t)))),
            h("tbody", {}, rows),
          )
        : h("p", { class: "muted" }, "No providers are installed."),
    );
  } catch (error) {
    if (error.status !== 401) show(h("h1", {}, "Providers"), errorBox(error));
  }
}

/** One provider's settings: the form from its manifest (`p`: as the API answered). */
async function provider(name, answered = null) {
  current("Providers");
  try {
    const p = answered || (await api("GET", providerPath(name)));
    const editor = configEditor(p.manifest.config_fields, p.config || {}, {
      secretsSet: new Set(p.secrets_set || []),
      readOnly: state.readOnly,
      id: "pf",
    });
    const result = h("div", { "data-testid": "provider-result" });
    const form = h(
      "form",
      { class: "card", "data-testid": "provider-form", "aria-label": `${p.name} settings` },
      editor.nodes.length ? editor.nodes : h("p", { class: "muted" }, "This provider has no settings."),
      state.readOnly ? null : h("div", { class: "row" }, h("button", { type: "submit" }, "Save settings")),
      result,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const saved = await api("PUT", providerPath(p.name), { config: editor.changes() });
        toast("Saved");
        provider(p.name, saved);
      } catch (error) {
        result.replaceChildren(errorBox(error));
      }
    });
    const toggle =
      p.status === "not_configured"
        ? null
        : action(p.enabled ? "Disable" : "Enable", async () => {
            try {
              const changed = await api("POST", providerPath(p.name, "/toggle"), { enabled: !p.enabled });
              toast(changed.enabled ? "Enabled" : "Disabled");
              provider(p.name, changed);
            } catch (error) {
              result.replaceChildren(errorBox(error));
            }
          }, "secondary");
    const inbound = p.manifest.capabilities.includes("inbound");
    show(
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: providers }, "← Providers")),
      h("h1", {}, p.name),
      h("p", { class: "muted" }, described(p.manifest.description)),
      h("p", {}, "Status: ", providerStatus(p), p.updated_at ? h("span", { class: "muted" }, ` · updated ${time(p.updated_at)}`) : null),
      p.declared ? h("p", { class: "muted" }, "Set by the operator's configuration: a restart restores those settings.") : null,
      toggle ? h("div", { class: "row" }, toggle) : null,
      inbound
        ? h(
            "p",
            { class: "url" },
            "Inbound URL: ",
            h("code", { "data-testid": "inbound-url" }, `${location.origin}/inbound/${encodeURIComponent(state.project)}/${p.name}`),
          )
        : null,
      p.manifest.capabilities.includes("outbound") && p.name !== "webhook"
        ? h("p", { class: "muted" }, `Endpoints with provider “${p.name}” use these settings; an endpoint's own settings override them.`)
        : null,
      h("h2", {}, "Settings"),
      form,
    );
  } catch (error) {
    if (error.status !== 401) show(h("p", {}, h("button", { type: "button", class: "secondary", onclick: providers }, "← Providers")), errorBox(error));
  }
}

// ---------------------------------------------------------------- event log

async function eventLog(filters = {}) {
  current("Event log");
  const type = h("input", { id: "log-type", placeholder: "order.* or order.paid", value: filters.event || "" });
  const resource = h("input", { id: "log-resource", placeholder: "ord_77", value: filters.resource_id || "" });
  const status = h(
    "select",
    { id: "log-status" },
    ["", "failed", "pending", "succeeded", "unrouted"].map((s) => h("option", { value: s, selected: s === (filters.status || "") }, s || "any")),
  );
  const since = h("input", { id: "log-since", type: "datetime-local" });
  const form = h(
    "form",
    { class: "card" },
    h("label", { for: "log-type" }, "Type"),
    type,
    h("label", { for: "log-resource" }, "Resource id"),
    resource,
    h("label", { for: "log-status" }, "Status"),
    status,
    h("label", { for: "log-since" }, "Since"),
    since,
    h("div", { class: "row" }, h("button", { type: "submit" }, "Search")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    eventLog({
      event: type.value.trim(),
      resource_id: resource.value.trim(),
      status: status.value,
      since: since.value ? String(new Date(since.value).getTime()) : "",
    });
  });
  const list = h("div", { "data-testid": "event-log" }, h("p", { class: "muted" }, "Loading…"));
  show(h("h1", {}, "Event log"), form, list);
  const query = new URLSearchParams({ limit: "50" });
  for (const [k, v] of Object.entries(filters)) if (v) query.set(k, v);
  try {
    const page = await api("GET", project(`/events?${query}`));
    const rows = page.data.map((e) =>
      h(
        "tr",
        { class: "link", tabindex: 0, "data-event": e.id, onclick: () => eventDetail(e.id), onkeydown: (k) => k.key === "Enter" && eventDetail(e.id) },
        h("td", { "data-label": "Type" }, e.event, testTag(e.test)),
        h("td", { "data-label": "Status", class: statusClass(e.status) }, e.status),
        h("td", { "data-label": "Resource" }, [e.resource, e.resource_id].filter(Boolean).join(" ") || "—"),
        h("td", { "data-label": "Deliveries" }, `${e.deliveries.succeeded}/${e.deliveries.total}`),
        h("td", { "data-label": "Created" }, time(e.created_at)),
      ),
    );
    list.replaceChildren(
      rows.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["Type", "Status", "Resource", "Delivered", "Created"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
        : h("p", { class: "muted" }, "No events match."),
    );
  } catch (error) {
    if (error.status !== 401) list.replaceChildren(errorBox(error));
  }
}

async function eventDetail(id) {
  try {
    const e = await api("GET", project(`/events/${id}`));
    let payload = e.payload;
    if (typeof payload !== "string") payload = JSON.stringify(payload, null, 2);
    show(
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => eventLog() }, "← Event log")),
      h("h1", {}, e.event),
      h("p", { class: "muted" }, `${e.id} · ${time(e.created_at)}`, e.source ? ` · from ${e.source.integration}` : ""),
      h("h2", {}, "Payload"),
      h("pre", { "data-testid": "payload" }, payload),
      h("h2", {}, "Deliveries"),
      (e.deliveries_made || e.deliveries || []).map((d) =>
        h("div", { class: "card" }, h("strong", { class: statusClass(d.status) }, d.status), ` · endpoint ${d.endpoint_id} · ${d.attempts} attempt(s)`),
      ),
    );
  } catch (error) {
    if (error.status !== 401) show(errorBox(error));
  }
}

start();

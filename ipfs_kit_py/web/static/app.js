// ipfs-kit dashboard: fetches the JSON API (cookie login) and draws widgets and charts.
// Plain browser JavaScript, no build step. Text from the API is always set with
// textContent, never parsed as HTML.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options, headers: { Accept: "application/json", ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("not logged in");
  }
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// ---- formatting ----------------------------------------------------------
const fmtTime = (t) => (t == null ? "" : new Date(t * 1000).toLocaleString());
const fmtShortTime = (t) => new Date(t * 1000).toLocaleTimeString();
function fmtBytes(n) {
  if (n == null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
function fmtNum(v) {
  if (typeof v !== "number") return v == null ? "" : String(v);
  return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(v < 10 ? 3 : 1);
}
function showError(target, err) {
  target.replaceChildren(el("p", { class: "error", text: err.message || String(err) }));
}
function table(columns, rows, onRow) {
  const head = el("tr", {}, columns.map(([, label]) => el("th", { text: label })));
  const body = rows.map((row) => {
    const tr = el("tr", {}, columns.map(([key, , fmt]) => el("td", { text: fmt ? fmt(row[key], row) : fmtNum(row[key]) })));
    if (onRow) { tr.classList.add("clickable"); tr.addEventListener("click", () => onRow(row, tr)); }
    return tr;
  });
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}
function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) if (v !== "") out[k] = v;
  return out;
}
const query = (params) => new URLSearchParams(params).toString();

// ---- charts (Chart.js, vendored) -----------------------------------------------
const charts = {};
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

// Chart.js (200 KB) is loaded on first use, so pages draw their numbers first.
let chartJsLoading = null;
function loadChartJs() {
  if (!chartJsLoading) {
    chartJsLoading = new Promise((resolve, reject) => {
      const script = el("script", { src: "/static/vendor/chart.umd.min.js" });
      script.addEventListener("load", resolve);
      script.addEventListener("error", () => reject(new Error("could not load Chart.js")));
      document.head.append(script);
    });
  }
  return chartJsLoading;
}

async function drawChart(canvasId, chart) {
  if (chart) await loadChartJs();
  const canvas = document.getElementById(canvasId);
  if (!canvas) return;
  if (charts[canvasId]) charts[canvasId].destroy();
  canvas.parentNode.hidden = !chart;  // no data: no empty axes
  if (!chart) { canvas.dataset.points = "0"; return; }
  const isTime = chart.x_type === "time";
  const color = (i) => PALETTE[i % PALETTE.length];
  let config;
  if (chart.type === "pie") {
    config = { type: "pie", data: { labels: chart.labels, datasets: chart.datasets.map((d) => ({ label: d.label, data: d.data, backgroundColor: chart.labels.map((_, i) => color(i)) })) } };
  } else if (chart.type === "bar") {
    config = { type: "bar", data: { labels: chart.labels, datasets: chart.datasets.map((d, i) => ({ label: d.label, data: d.data, backgroundColor: color(i) })) } };
  } else {
    const datasets = [];
    chart.datasets.forEach((d, i) => {
      datasets.push({ label: d.label, data: d.data, borderColor: color(i), backgroundColor: color(i), showLine: chart.type !== "scatter", pointRadius: chart.type === "scatter" ? 3 : 1 });
      if (d.trendline) datasets.push({ label: `${d.label} trend`, data: d.trendline.points, borderColor: color(i), borderDash: [6, 4], showLine: true, pointRadius: 0 });
    });
    // One x value only: give the axis a span instead of Chart.js's arbitrary padding.
    const xs = chart.datasets.flatMap((d) => d.data.map((p) => p.x));
    const span = xs.length && Math.min(...xs) === Math.max(...xs) ? { min: xs[0] - (isTime ? 300 : 1), max: xs[0] + (isTime ? 300 : 1) } : {};
    config = { type: "scatter", data: { datasets }, options: { scales: { x: { type: "linear", ...span, title: { display: !!chart.x_label, text: chart.x_label || "" }, ticks: { callback: (v) => (isTime ? fmtShortTime(v) : v) } }, y: { beginAtZero: true, title: { display: !!chart.y_label, text: chart.y_label || "" } } } } };
  }
  config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...(config.options || {}), plugins: { title: { display: true, text: chart.title } } };
  charts[canvasId] = new Chart(canvas, config);
  canvas.dataset.points = String(chart.datasets.reduce((n, d) => n + d.data.length, 0));
  canvas.dataset.chartType = chart.type;
}

// ---- overview: widgets -----------------------------------------------------------
const widgetRenderers = {
  status(data) {
    return el("div", {}, el("p", { class: `badge ${data.status}`, "data-status": data.status, text: data.status }),
      data.message ? el("p", { class: "muted", text: data.message }) : null,
      el("dl", {}, Object.entries(data.items).map(([k, v]) => [el("dt", { text: k }), el("dd", { text: typeof v === "object" ? JSON.stringify(v) : fmtNum(v) })])));
  },
  health(data) {
    return el("div", {}, el("p", { class: `badge ${data.overall}`, text: `${data.overall} (${data.healthy}/${data.total})` }),
      el("ul", { class: "plain" }, data.components.map((c) => el("li", { "data-component": c.name }, el("span", { class: c.healthy ? "ok-mark" : "bad-mark", text: c.healthy ? "✓ " : "✗ " }), c.name, c.error ? el("span", { class: "muted", text: ` ${c.error}` }) : null))));
  },
  alert(data) {
    if (!data.count) return el("p", { class: "muted", text: "No findings." });
    return el("div", {}, el("p", {}, el("span", { class: `badge ${data.highest}`, text: `${data.count} finding(s)` })),
      el("ul", { class: "alerts" }, data.alerts.map((a) => el("li", { class: `sev-${a.severity}` }, el("span", { class: "sev", text: a.severity }), " ", a.message, a.time ? el("span", { class: "muted", text: ` ${fmtTime(a.time)}` }) : null))));
  },
  counter(data) {
    return el("div", { class: "counters" }, Object.entries(data.counters).map(([name, value]) => {
      const delta = data.deltas[name];
      return el("div", { class: "counter" }, el("span", { class: "value", "data-counter": name, "data-value": value, text: name.includes("bytes") ? fmtBytes(value) : fmtNum(value) }),
        el("span", { class: "label", text: name }), delta ? el("span", { class: "delta", text: `${delta > 0 ? "+" : ""}${fmtNum(delta)}` }) : null);
    }));
  },
  metric(data, widget) {
    const rows = Object.entries(data.metrics).map(([name, m]) => ({ name, value: m.value, unit: m.unit || "" }));
    if (!rows.length) return el("p", { class: "muted", text: "No operations measured yet." });
    const canvasId = `chart-widget-${widget.widget_id}`;
    const box = el("div", {}, table([["name", "Metric"], ["value", "Value"], ["unit", ""]], rows), el("div", { class: "chart-box small" }, el("canvas", { id: canvasId })));
    const series = {};
    for (const [name, points] of Object.entries(data.history)) if (name.endsWith("p95")) series[name] = points.map(([x, y]) => ({ x, y }));
    queueMicrotask(() => drawChart(canvasId, { type: "line", title: `${widget.title}: p95 history`, x_type: "time", datasets: Object.entries(series).map(([label, d]) => ({ label, data: d })), labels: [] }));
    return box;
  },
  operation_history(data) {
    if (!data.operations.length) return el("p", { class: "muted", text: "No operations yet." });
    return table([["timestamp", "Time", fmtShortTime], ["action", "Action"], ["status", "Status"], ["user_id", "User"], ["duration_ms", "ms"]], data.operations);
  },
};

function renderWidget(widget) {
  let card = document.getElementById(`widget-${widget.widget_id}`);
  if (!card) {
    card = el("section", { class: `card widget ${widget.widget_type}`, id: `widget-${widget.widget_id}`, "data-widget-type": widget.widget_type });
    $("#widgets").append(card);
  }
  const body = widget.error ? el("p", { class: "error", text: widget.error }) : widgetRenderers[widget.widget_type](widget.data, widget);
  card.replaceChildren(el("h2", { text: widget.title }), body, el("p", { class: "updated muted", text: `updated ${fmtShortTime(widget.updated_at)} · every ${widget.refresh_interval}s` }));
  card.dataset.updatedAt = String(widget.updated_at);
}

async function pageOverview() {
  try {
    // The page embeds the first overview (one round trip less); later refreshes use the API.
    const embedded = document.getElementById("initial-overview");
    const overview = embedded ? JSON.parse(embedded.textContent) : await api("/api/overview");
    for (const widget of overview.widgets) {
      renderWidget(widget);
      setInterval(async () => {
        try { renderWidget(await api(`/api/widgets/${encodeURIComponent(widget.widget_id)}`)); } catch (err) { /* keep the last data */ }
      }, Math.max(1, widget.refresh_interval) * 1000);
    }
    markReady();
  } catch (err) { showError($("#widgets"), err); }
}

// ---- content -----------------------------------------------------------------------
async function pageContent() {
  const loadPins = async () => {
    const tbody = $("#pins-table tbody");
    try {
      const pins = await api("/api/content/pins?type=all");
      tbody.replaceChildren(...pins.filter((p) => p.type !== "indirect").map((p) => el("tr", { "data-cid": p.cid },
        el("td", {}, el("a", { href: "#", text: p.cid, onclick: (e) => { e.preventDefault(); browse(p.cid); } })),
        el("td", { text: p.type }), el("td", { text: fmtTime(p.created) }),
        el("td", {}, el("button", { class: "small", text: "Unpin", onclick: () => unpin(p.cid) })))));
    } catch (err) { tbody.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "error", text: err.message }))); }
  };
  const unpin = async (cid) => {
    try { await api("/api/content/unpin", { json: { path: cid } }); await loadPins(); } catch (err) { showError($("#pin-result"), err); }
  };
  const browse = async (path) => {
    $("#browse-path").value = path;
    const out = $("#browse-result");
    try {
      const info = await api(`/api/content/stat?${query({ path })}`);
      const parts = [el("p", {}, `${info.type}, ${fmtBytes(info.size)} `, info.type === "file" ? el("a", { href: `/api/content/cat?${query({ path })}`, download: "", text: "download" }) : null)];
      if (info.type === "directory") {
        const entries = await api(`/api/content/ls?${query({ path })}`);
        parts.push(table([["name", "Name"], ["type", "Type"], ["size", "Size", fmtBytes], ["cid", "CID"]], entries, (row) => browse(`${path.replace(/\/$/, "")}/${row.name}`)));
      }
      out.replaceChildren(...parts);
    } catch (err) { showError(out, err); }
  };
  $("#add-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("#add-file").files[0];
    const out = $("#add-result");
    if (!file) return;
    try {
      const params = query({ name: file.name, cid_version: $("#add-cidv1").checked ? 1 : 0, pin: $("#add-pin").checked });
      const res = await api(`/api/content/add?${params}`, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
      out.replaceChildren(`added ${file.name}: `, el("code", { id: "added-cid", text: res.cid }), ` (${fmtBytes(res.bytes)})`);
      await loadPins();
    } catch (err) { showError(out, err); }
  });
  $("#pin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const res = await api("/api/content/pin", { json: { path: $("#pin-path").value.trim(), type: $("#pin-type").value } });
      $("#pin-result").textContent = `pinned ${res.cid} (${res.type})`;
      await loadPins();
    } catch (err) { showError($("#pin-result"), err); }
  });
  $("#browse-form").addEventListener("submit", (e) => { e.preventDefault(); browse($("#browse-path").value.trim()); });
  $("#pins-refresh").addEventListener("click", loadPins);
  await loadPins();
  markReady();
}

// ---- audit explorer ------------------------------------------------------------------
async function pageAudit() {
  const tbody = $("#events-table tbody");
  const more = $("#events-more");
  let filters = {};
  let cursor = null;
  const load = async (append) => {
    try {
      const page = await api(`/api/audit/events?${query({ ...filters, limit: 50, ...(append && cursor ? { cursor } : {}) })}`);
      const rows = page.events.map((ev) => {
        const tr = el("tr", { class: `clickable status-${ev.status}`, "data-event-id": ev.event_id, "data-action": ev.action },
          el("td", { text: fmtTime(ev.timestamp) }), el("td", { text: ev.event_type }), el("td", { text: ev.action }),
          el("td", { text: ev.status }), el("td", { text: ev.user_id || "" }), el("td", { class: "mono", text: ev.resource || "" }));
        tr.addEventListener("click", () => showEvent(ev.event_id));
        return tr;
      });
      if (append) tbody.append(...rows); else tbody.replaceChildren(...rows);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      markReady();
    } catch (err) { tbody.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "error", text: err.message }))); }
  };
  const eventList = (events) => el("ul", { class: "plain events" }, (events || []).map((ev) => {
    const e = ev.event || ev;
    return el("li", {}, el("a", { href: "#", text: `${fmtShortTime(e.timestamp)} ${e.action} ${e.status}`, onclick: (x) => { x.preventDefault(); showEvent(e.event_id); } }),
      ev.score != null ? el("span", { class: "muted", text: ` score ${fmtNum(ev.score)}${ev.reasons ? " · " + ev.reasons.join(", ") : ""}` }) : null);
  }));
  const showEvent = async (id) => {
    const panel = $("#event-detail");
    try {
      const d = await api(`/api/audit/events/${encodeURIComponent(id)}`);
      const ev = d.event;
      const timeline = d.timeline ? d.timeline.events : [];
      const chain = d.causation.explicit_chain.filter((link) => link.event_id !== ev.event_id);
      const inferred = d.causation.inferred_causes;
      const effects = d.causation.direct_effects;
      const correlated = d.correlated;
      panel.replaceChildren(
        el("h2", { text: ev.action }),
        el("dl", { id: "event-fields" }, ["event_id", "event_type", "status", "severity", "user_id", "source_ip", "resource", "operation_id", "parent_id", "duration_ms", "bytes"].map((k) => [el("dt", { text: k }), el("dd", { "data-field": k, text: ev[k] == null ? "" : String(ev[k]) })])),
        el("h3", { text: "Details" }), el("pre", { id: "event-details", text: JSON.stringify(ev.details, null, 2) }),
        el("h3", { text: `Correlated events (${correlated.length})` }), eventList(correlated),
        el("h3", { text: `Operation timeline (${timeline.length})` }), eventList(timeline),
        el("h3", { text: `Caused by (${chain.length} explicit, ${inferred.length} inferred)` }),
        el("div", { id: "event-causes" }, eventList(chain), eventList(inferred)),
        el("h3", { text: `Direct effects (${effects.length})` }), eventList(effects));
      panel.dataset.eventId = ev.event_id;
    } catch (err) { showError(panel, err); }
  };
  $("#audit-filter").addEventListener("submit", (e) => { e.preventDefault(); filters = formValues(e.target); load(false); });
  more.addEventListener("click", () => load(true));
  const params = new URLSearchParams(location.search);
  for (const key of ["event_type", "action", "status", "user_id", "since"]) {
    if (params.get(key)) { filters[key] = params.get(key); $(`#audit-filter [name=${key}]`).value = params.get(key); }
  }
  await load(false);
  if (params.get("event")) await showEvent(params.get("event"));
}

// ---- analytics ---------------------------------------------------------------------
async function pageAnalytics() {
  const run = (formId, fn) => {
    const form = $(formId);
    form.addEventListener("submit", (e) => { e.preventDefault(); fn(formValues(form)); });
    return fn(formValues(form));
  };
  await Promise.all([
    run("#activity-form", async (p) => {
      try {
        const d = await api(`/api/analytics/activity?${query(p)}`);
        drawChart("chart-activity", d.over_time); drawChart("chart-types", d.by_type);
      } catch (err) { showError($("#chart-activity").parentNode, err); }
    }),
    run("#patterns-form", async (p) => {
      const out = $("#patterns-list");
      try {
        const d = await api(`/api/analytics/patterns?${query(p)}`);
        out.replaceChildren(d.patterns.length ? table([["pattern_type", "Pattern"], ["description", "Description"], ["occurrences", "Count"], ["confidence", "Confidence"]], d.patterns) : el("p", { class: "muted", text: "No patterns found." }));
        drawChart("chart-patterns", d.chart);
      } catch (err) { showError(out, err); }
    }),
    run("#anomalies-form", async (p) => {
      const out = $("#anomalies-list");
      try {
        const d = await api(`/api/analytics/anomalies?${query(p)}`);
        out.replaceChildren(d.anomalies.length ? table([["timestamp", "Time", fmtTime], ["anomaly_type", "Type"], ["severity", "Severity"], ["deviation_score", "Deviation"], ["affected_user", "User"]], d.anomalies) : el("p", { class: "muted", text: "No anomalies." }));
        drawChart("chart-anomalies", d.chart);
      } catch (err) { showError(out, err); }
    }),
    run("#compliance-form", async (p) => {
      const out = $("#compliance-summary");
      try {
        const d = await api(`/api/analytics/compliance?${query(p)}`);
        const c = d.compliance;
        const score = c.overall_score ?? c.score;
        const rules = c.rule_scores || c.rules || {};
        const ruleRows = Array.isArray(rules) ? rules : Object.entries(rules).map(([rule, v]) => ({ rule, score: typeof v === "object" ? (v.score ?? v.value) : v }));
        out.replaceChildren(el("p", { class: "score", id: "compliance-score", text: `${fmtNum(score)} / 100` }),
          table([["rule", "Rule"], ["score", "Score"]], ruleRows),
          el("p", { class: "muted", text: `${(c.violations || []).length} violation(s)` }));
        const chartData = {};
        for (const r of ruleRows) if (typeof r.score === "number") chartData[r.rule] = r.score;
        drawChart("chart-compliance", Object.keys(chartData).length ? { type: "bar", title: "Score per rule", x_type: "category", labels: Object.keys(chartData), datasets: [{ label: "score", data: Object.values(chartData) }] } : null);
      } catch (err) { showError(out, err); }
    }),
  ]);
  markReady();
}

// ---- performance -------------------------------------------------------------------------
async function pagePerformance() {
  const load = async (params) => {
    try {
      const d = await api(`/api/performance?${query(params)}`);
      drawChart("chart-latency", d.latency_chart);
      drawChart("chart-throughput", d.throughput_chart);
      const cache = d.cache;
      $("#cache-stats").replaceChildren(el("dl", {}, Object.entries(cache).filter(([, v]) => typeof v !== "object").map(([k, v]) => [el("dt", { text: k }), el("dd", { text: fmtNum(v) })])));
      $("#bottlenecks").replaceChildren(d.bottlenecks.length ? el("ul", { class: "alerts" }, d.bottlenecks.map((b) => el("li", { class: `sev-${b.severity}`, text: b.reason }))) : el("p", { class: "muted", text: "No bottlenecks." }));
      const sys = d.resources.system || {};
      $("#resources").replaceChildren(el("dl", {}, Object.entries(sys).filter(([, v]) => typeof v === "number").map(([k, v]) => [el("dt", { text: k }), el("dd", { text: fmtNum(v) })])));
      $("#perf-ops").replaceChildren(table([["operation", "Operation"], ["count", "Count"], ["success_rate", "Success %"], ["p50_ms", "p50 ms"], ["p95_ms", "p95 ms"], ["p99_ms", "p99 ms"], ["throughput_per_s", "ops/s"]], d.operations));
      markReady();
    } catch (err) { showError($("#perf-ops"), err); }
  };
  $("#perf-form").addEventListener("submit", (e) => { e.preventDefault(); load(formValues(e.target)); });
  await load({ timeframe: "1h" });
}

// ---- wizards ---------------------------------------------------------------------------------
async function pageWizards() {
  const panel = $("#wizard-panel");
  const list = $("#wizard-list");
  const wizards = await api("/api/wizards");
  list.replaceChildren(...wizards.map((w) => el("li", {}, el("a", { href: "#", "data-wizard": w.wizard_id, text: `${w.title} (${w.steps} steps)`, onclick: (e) => { e.preventDefault(); open(w.wizard_id, null); } }),
    el("p", { class: "muted", text: w.description }))));
  markReady();

  async function open(wizardId, template) {
    const spec = await api(`/api/wizards/${wizardId}?${query(template ? { template } : {})}`);
    const state = { step: 0, answers: { ...spec.answers }, template, summary: null };
    const visible = (f) => Object.entries(f.show_if).every(([other, allowed]) => allowed.includes(state.answers[other] ?? defaultOf(other)));
    const fieldsByName = Object.fromEntries(spec.steps.flatMap((s) => s.fields).map((f) => [f.name, f]));
    const defaultOf = (name) => fieldsByName[name]?.default;
    const controlling = new Set(Object.values(fieldsByName).flatMap((f) => Object.keys(f.show_if)));
    const collect = (step) => {
      for (const f of step.fields) {
        const input = panel.querySelector(`[name="${f.name}"]`);
        if (!input) continue;
        if (f.type === "bool") state.answers[f.name] = input.checked;
        else if (f.type === "secret") { if (input.value !== "") state.answers[f.name] = input.value; }
        else if (input.value !== "" || state.answers[f.name] !== undefined) state.answers[f.name] = input.value;
      }
    };
    const render = (errors = {}, message = null) => {
      const step = spec.steps[state.step];
      const inputs = step.fields.filter(visible).map((f) => {
        const value = state.answers[f.name] ?? f.default;
        let input;
        if (f.type === "bool") input = el("input", { type: "checkbox", name: f.name, checked: !!value });
        else if (f.type === "choice") input = el("select", { name: f.name }, f.choices.map((c) => el("option", { value: c, selected: String(value) === c, text: c })));
        else input = el("input", { type: f.type === "secret" ? "password" : (f.type === "int" || f.type === "float") ? "number" : "text", name: f.name, value: f.type === "secret" ? "" : (Array.isArray(value) ? value.join(", ") : (value ?? "")), step: f.type === "float" ? "any" : null, autocomplete: "off" });
        // Re-render only when the answer decides which other fields are shown.
        if (controlling.has(f.name)) input.addEventListener("change", () => { collect(step); render(errors); });
        return el("div", { class: "field" }, el("label", {}, f.type === "bool" ? [input, " ", f.label] : [f.label, input]),
          f.help ? el("small", { class: "muted", text: f.help }) : null,
          errors[f.name] ? el("p", { class: "error field-error", "data-field-error": f.name, text: `${f.name} ${errors[f.name]}` }) : null);
      });
      const templates = Object.entries(spec.templates);
      panel.replaceChildren(...[
        el("h2", { text: spec.title }),
        templates.length ? el("p", {}, "Template: ", el("select", { id: "wizard-template", onchange: (e) => open(wizardId, e.target.value || null) }, el("option", { value: "", text: "(none)" }), templates.map(([name, desc]) => el("option", { value: name, selected: name === template, title: desc, text: name })))) : null,
        el("ol", { class: "steps" }, spec.steps.map((s, i) => el("li", { class: i === state.step ? "current" : (i < state.step ? "done" : ""), text: s.title }))),
        el("h3", { id: "wizard-step-title", "data-step": step.name, text: `Step ${state.step + 1} of ${spec.steps.length}: ${step.title}` }),
        el("p", { class: "muted", text: step.description }),
        step.name === "review" && state.summary ? el("pre", { id: "wizard-summary", text: JSON.stringify(state.summary, null, 2) }) : null,
        el("form", { id: "wizard-form", onsubmit: (e) => { e.preventDefault(); next(); } }, inputs,
          el("div", { class: "buttons" },
            el("button", { type: "button", id: "wizard-back", disabled: state.step === 0, text: "Back", onclick: () => { collect(step); state.step--; render(); } }),
            el("button", { type: "submit", id: "wizard-next", text: state.step === spec.steps.length - 1 ? "Apply" : "Next" }))),
        message].filter(Boolean));
    };
    const next = async () => {
      const step = spec.steps[state.step];
      collect(step);
      try {
        const v = await api(`/api/wizards/${wizardId}/validate`, { json: { step: state.step, answers: state.answers, template: state.template } });
        if (!v.valid) return render(v.errors);
        if (v.summary) state.summary = v.summary;
        if (state.step < spec.steps.length - 1) { state.step++; return render(); }
        const result = await api(`/api/wizards/${wizardId}/apply`, { json: { answers: state.answers, template: state.template } });
        panel.replaceChildren(...[el("h2", { text: spec.title }),
          el("p", { class: "success", id: "wizard-result", text: result.applied ? "Configuration applied." : "Not applied." }),
          table([["path", "Setting"], ["old", "Before", (v) => JSON.stringify(v)], ["new", "After", (v) => JSON.stringify(v)]], result.changes),
          result.event_id ? el("p", {}, el("a", { id: "wizard-audit-link", href: `/audit?event=${encodeURIComponent(result.event_id)}&action=config.change`, text: "See the config.change event in the audit explorer" })) : null].filter(Boolean));
      } catch (err) { render({}, el("p", { class: "error", id: "wizard-error", text: err.message })); }
    };
    render();
  }
}

// For tests and the benchmark: the page has drawn its data (ms since navigation start).
function markReady() {
  document.body.dataset.readyAt = String(Math.round(performance.now()));
  document.body.dataset.ready = "1";
}

const PAGES = { overview: pageOverview, content: pageContent, audit: pageAudit, analytics: pageAnalytics, performance: pagePerformance, wizards: pageWizards };
document.addEventListener("DOMContentLoaded", () => {
  const run = PAGES[document.body.dataset.page];
  if (run) run().catch((err) => console.error(err));
});

/* Shared by every dashboard page: configuration, JSON fetching, chart cards (states, PNG and CSV
 * export) and colours. Chart.js is loaded before this module as a classic script (window.Chart). */

const Chart = window.Chart;

export const config = JSON.parse(document.getElementById("dashboard-config").textContent);

/** A text of the page's language. */
export function t(key) {
  return config.strings[key] ?? key;
}

/** The label of a knowledge-base item in the page's language, falling back to any label. */
export function labelOf(labels) {
  for (const field of config.labelFields) {
    if (labels && labels[field]) return labels[field];
  }
  return "?";
}

export const LEVELS = ["Low risks", "Medium risks", "High risks"];
export const LEVEL_COLORS = { "Low risks": "#43aa8b", "Medium risks": "#f9a03f", "High risks": "#d7263d" };
export const PALETTE = ["#1d4e89", "#f3722c", "#43aa8b", "#9b5de5", "#d7263d", "#277da1", "#f9c74f", "#577590"];
export const STATE_COLORS = { current: "#1d4e89", residual: "#7fc8f8", target: "#43aa8b" };

const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
Chart.defaults.color = "#3b4654";
Chart.defaults.maintainAspectRatio = false;
/** A phone: smaller legend and axis titles, so the plot keeps its room. */
export const NARROW = window.innerWidth < 640;
if (NARROW) {
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  Chart.defaults.plugins.legend.labels.font = { size: 10 };
  Chart.defaults.scale.title.font = { size: 10 };
}
if (reducedMotion) Chart.defaults.animation = false;

/* Exported PNGs get an opaque background (white unless a chart sets options.plugins.background.color). */
Chart.register({
  id: "background",
  defaults: { color: "#ffffff" },
  beforeDraw(chart, _args, options) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = options.color;
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
});

/** GET a JSON route of the hub with query parameters; throws with the hub's error message. */
export async function getJSON(url, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const target = query.toString() ? `${url}?${query}` : url;
  const response = await fetch(target, { headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = new Error((body && body.message) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** The value of a page-wide toolbar control. */
export function toolbarValue(name) {
  const element = document.querySelector(`#toolbar [data-control="${name}"]`);
  return element ? element.value : null;
}

/** A day of the hub's calendar, ``days`` before ``iso`` (both YYYY-MM-DD, computed in UTC). */
export function shiftDay(iso, days) {
  const day = new Date(`${iso}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

/** The chosen window as {date_from, date_to} (custom range) or {days}, or {last_stats} for "latest". */
export function windowParams() {
  const value = toolbarValue("window");
  if (!value) return {};
  if (value === "latest") return { last_stats: 1 };
  if (value === "custom") {
    const from = toolbarValue("from");
    const to = toolbarValue("to");
    if (from && to && from <= to && from >= shiftDay(to, -(MAX_DAYS - 1))) return { date_from: from, date_to: to };
    return { days: config.defaultWindow };
  }
  return { days: value };
}

/** The longest custom window the hub serves (schemas.MAX_DAYS). */
const MAX_DAYS = 3660;

/* Views you can keep: every control lives in the query string. Toolbar controls use their own name
 * (window, period, from, to), a card's controls are prefixed with the card id (top-threats-metric). */
function controlKey(element) {
  const card = element.closest("[data-chart]");
  const name = element.dataset.control;
  return card ? `${card.dataset.chart}-${name}` : name;
}

function allControls() {
  return [...document.querySelectorAll("#toolbar [data-control], [data-chart] .controls [data-control]")];
}

/** Set the controls from the URL (an option that does not exist is left alone). */
export function applyURL() {
  const params = new URLSearchParams(window.location.search);
  for (const element of allControls()) {
    const key = controlKey(element);
    const wanted = params.has(key) ? params.get(key) : element.dataset.initial;
    if (wanted === undefined || wanted === null) continue;
    if (element.tagName === "SELECT" && ![...element.options].some((o) => o.value === wanted)) {
      element.dataset.wanted = wanted; // options filled later (compliance referentials)
      continue;
    }
    element.value = wanted;
  }
  showCustomRange();
}

function showCustomRange() {
  const custom = toolbarValue("window") === "custom";
  for (const label of document.querySelectorAll("#toolbar .custom-range")) label.hidden = !custom;
  if (custom) {
    const from = document.querySelector('#toolbar [data-control="from"]');
    const to = document.querySelector('#toolbar [data-control="to"]');
    if (!to.value) to.value = config.today;
    if (!from.value) from.value = shiftDay(to.value, -(Number(config.defaultWindow) - 1));
    from.max = to.max = config.today;
  }
}

/** The query string of the current view (defaults left out, the language kept). */
export function viewQuery() {
  const params = new URLSearchParams();
  const current = new URLSearchParams(window.location.search);
  if (current.get("lang")) params.set("lang", current.get("lang"));
  const custom = toolbarValue("window") === "custom";
  for (const element of allControls()) {
    const name = element.dataset.control;
    if ((name === "from" || name === "to") && !custom) continue;
    if (element.value === "" || element.value === element.dataset.initial) continue;
    params.set(controlKey(element), element.value);
  }
  for (const key of ["threat", "vulnerability"]) if (current.get(key)) params.set(key, current.get(key));
  return params.toString();
}

/** The language switch keeps the whole view; the menu keeps the window (one window for every page). */
function updateLanguageLinks() {
  for (const link of document.querySelectorAll(".lang-switch a[data-lang]")) {
    const params = new URLSearchParams(viewQuery());
    params.set("lang", link.dataset.lang);
    link.href = `${window.location.pathname}?${params}`;
  }
  const view = new URLSearchParams(viewQuery());
  for (const link of document.querySelectorAll(".topbar nav ul a[href]")) {
    const target = new URL(link.getAttribute("href"), window.location.href);
    const params = new URLSearchParams();
    for (const key of ["lang", "window", "from", "to"]) if (view.get(key)) params.set(key, view.get(key));
    link.setAttribute("href", params.toString() ? `${target.pathname}?${params}` : target.pathname);
  }
}

/** Record the view in the address bar (a new history entry: back/forward walk the views). */
export function pushView() {
  const query = viewQuery();
  const target = query ? `${window.location.pathname}?${query}` : window.location.pathname;
  if (target !== window.location.pathname + window.location.search) window.history.pushState(null, "", target);
  updateLanguageLinks();
}

for (const element of allControls()) {
  element.dataset.initial = element.value;
  element.addEventListener("change", () => {
    showCustomRange();
    pushView();
  });
}
applyURL();
updateLanguageLinks();

/** Call ``handler`` whenever a toolbar control changes. */
export function onToolbarChange(handler) {
  for (const element of document.querySelectorAll("#toolbar [data-control]")) {
    element.addEventListener("change", () => {
      if (toolbarValue("window") === "custom" && !("date_from" in windowParams())) return;
      handler();
    });
  }
}

/** Back/forward: set the controls from the URL again and redraw with ``handler``. */
export function onHistory(handler) {
  window.addEventListener("popstate", () => {
    applyURL();
    updateLanguageLinks();
    handler();
  });
}

/** "Last 90 days" style description of the window, from the answer's own dates. */
export function windowText(meta) {
  if (!meta || !meta.date_to) return "";
  if (toolbarValue("window") === "latest" || meta.date_from === meta.date_to) return `${t("asOf")} ${meta.date_to}`;
  return `${meta.date_from} – ${meta.date_to}`;
}

/** "6 analyses · 2 organisations · 2026-09-03 – 2026-12-01": what a chart stands on. */
export function contextText(meta) {
  if (!meta) return "";
  const global = config.mode === "global";
  // French puts 0 and 1 in the singular, English only 1
  const single = (n) => (config.language === "fr" ? Math.abs(n) < 2 : n === 1);
  const plural = (n, one, many) => `${formatNumber(n, 0)} ${single(n) ? t(one) : t(many)}`;
  // a count below k is not published (null): "fewer than 3 organisations"
  const fewer = (many) => `${t("fewerThan").replace("%(k)s", config.minOrganisations)} ${t(many)}`;
  const count = (n, one, many) => (n === null ? fewer(many) : plural(n, one, many));
  const parts = [];
  if (meta.analyses !== undefined) parts.push(count(meta.analyses, "analysis", "analyses"));
  if (meta.organisations !== undefined) {
    parts.push(global ? count(meta.organisations, "hub", "hubs") : count(meta.organisations, "organisation", "organisations"));
  }
  if (meta.markers !== undefined) {
    parts.push(plural(meta.markers, "areaOnMap", "areasOnMap"));
    if (meta.markers && meta.min_organisations) {
      parts.push(t(meta.markers === 1 ? "atLeastInArea" : "atLeastInEachArea").replace("%(k)s", meta.min_organisations));
    }
  }
  const span = windowText(meta);
  if (span) parts.push(span);
  if (meta.period && meta.period !== "day") parts.push(`${t("period")}: ${t(meta.period)}`);
  return parts.join(" · ");
}

/** ISO week of a YYYY-MM-DD day, as 2026-W48 (the week's Thursday decides its year). */
function isoWeek(iso) {
  const day = new Date(`${iso}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + 4 - (day.getUTCDay() || 7));
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day - yearStart) / 86400000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/** A period's start date as the period reads: 2026-11-30, 2026-W48, 2026-11, 2026-Q4, 2026. */
export function periodLabel(iso, period) {
  const [year, month] = iso.split("-");
  switch (period) {
    case "week": return isoWeek(iso);
    case "month": return `${year}-${month}`;
    case "quarter": return `${year}-Q${Math.floor((Number(month) - 1) / 3) + 1}`;
    case "year": return year;
    default: return iso;
  }
}

/** Whether the pulled community series can be set beside a chart of ``processor`` (local hubs only). */
export function communityOffered(processor) {
  return Boolean(config.community[processor]);
}

/** The community's output of ``processor`` over the window of ``meta`` (the local answer) and in
 * ``period``, computed on the hub exactly as the local figure is; null when not pulled. */
export async function communitySeries(processor, meta, period = "day") {
  if (!communityOffered(processor) || !meta || !meta.date_to) return null;
  try {
    return await getJSON(config.urls.community, {
      processor, date_from: meta.date_from || meta.date_to, date_to: meta.date_to, period,
    });
  } catch {
    return null;
  }
}

/** Whether a community answer has data for its window (else the page says so in one line). */
export function communityHasData(community) {
  return Boolean(community && community.days > 0);
}

function download(url, filename) {
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
}

const FRENCH = config.language === "fr";
const SEPARATOR = FRENCH ? ";" : ",";

function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text;
  if (typeof value === "number") {
    text = String(Math.round(value * 1e6) / 1e6);
    if (FRENCH) text = text.replace(".", ",");
  } else {
    text = String(value);
  }
  return /[",\n\r;]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV text from rows of cells: ";" and decimal commas in French, "," and points in English. */
export function toCSV(rows) {
  return rows.map((row) => row.map(csvCell).join(SEPARATOR)).join("\r\n") + "\r\n";
}

/** Rows of a category chart: one line per label, one column per dataset. */
function defaultRows(chart, firstColumn) {
  const datasets = chart.data.datasets;
  const header = [firstColumn || t("label"), ...datasets.map((d) => d.label)];
  const rows = chart.data.labels.map((label, i) => [
    Array.isArray(label) ? label.join(" ") : label,
    ...datasets.map((d) => {
      const point = d.data[i];
      return point !== null && typeof point === "object" ? point.y : point;
    }),
  ]);
  return [header, ...rows];
}

/** One chart in its card: loading/empty/error states, context, redraws, PNG/CSV export, data link. */
export class ChartCard {
  constructor(id, { rows, firstColumn, legend } = {}) {
    this.id = id;
    this.card = document.getElementById(`card-${id}`);
    this.canvas = document.getElementById(`chart-${id}`);
    this.message = this.card.querySelector('[data-role="message"]');
    this.contextLine = this.card.querySelector('[data-role="context"]');
    this.dataLink = this.card.querySelector('[data-role="data-link"]');
    this.rows = rows || ((chart) => defaultRows(chart, typeof firstColumn === "function" ? firstColumn() : firstColumn));
    this.legend = legend || null;
    this.meta = null;
    this.chart = null;
    this.card.querySelector('[data-export="png"]').addEventListener("click", () => this.exportPNG());
    this.card.querySelector('[data-export="csv"]').addEventListener("click", () => this.exportCSV());
  }

  get title() {
    return this.card.querySelector(".card-head h2").textContent.trim();
  }

  /** The value of one of the card's own controls. */
  control(name) {
    const element = this.card.querySelector(`[data-control="${name}"]`);
    return element ? element.value : null;
  }

  controlElement(name) {
    return this.card.querySelector(`[data-control="${name}"]`);
  }

  onControlChange(handler) {
    for (const element of this.card.querySelectorAll(".controls [data-control]")) {
      element.addEventListener("change", handler);
    }
  }

  /** What the chart stands on (organisations, analyses, dates) and the JSON it came from. */
  setSource(url, params, meta) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
    }
    this.dataLink.href = query.toString() ? `${url}?${query}` : url;
    this.meta = meta;
    this.contextLine.textContent = contextText(meta);
  }

  get contextText() {
    return contextText(this.meta);
  }

  setState(state, text) {
    this.card.dataset.state = state;
    this.message.textContent = text || "";
  }

  loading() {
    this.setState("loading", t("loading"));
  }

  empty(text) {
    this.destroy();
    const organisations = this.meta ? this.meta.organisations : undefined;
    const few = organisations === null || (organisations !== undefined && organisations < config.minOrganisations);
    this.setState("empty", text || (few || !this.meta ? t("suppressed").replace("%(k)s", config.minOrganisations) : t("noData")));
  }

  failed(error) {
    this.destroy();
    this.setState("error", `${t("error")} ${error && error.message ? error.message : ""}`.trim());
    console.warn(`chart ${this.id}:`, error);
  }

  destroy() {
    if (this.chart) {
      this.chart.destroy();
      this.chart = null;
    }
  }

  /** Draw a Chart.js configuration, replacing the previous chart; tooltips end with the context. */
  draw(chartConfig) {
    this.destroy();
    this.setState("ready", "");
    const options = chartConfig.options || (chartConfig.options = {});
    const plugins = options.plugins || (options.plugins = {});
    const tooltip = plugins.tooltip || (plugins.tooltip = {});
    const callbacks = tooltip.callbacks || (tooltip.callbacks = {});
    if (!callbacks.footer) callbacks.footer = () => this.contextText;
    tooltip.footerFont = { weight: "normal", size: 11 };
    this.chart = new Chart(this.canvas, chartConfig);
    this.card.dataset.version = String(Number(this.card.dataset.version || 0) + 1);
    return this.chart;
  }

  /** (colour, text) pairs of the legend drawn into the PNG. */
  legendItems() {
    if (this.legend) return this.legend();
    const colour = (d) => [d.borderColor, d.backgroundColor].find((c) => typeof c === "string" && c !== "#ffffff") || "#888888";
    return this.chart.data.datasets.map((d) => [colour(d), d.label]);
  }

  /** The chart with its title, context, legend, window, date and hub drawn around it. */
  composedImage() {
    const source = this.chart.canvas;
    const ratio = source.width / Math.max(1, this.chart.width);
    const pad = 16 * ratio;
    const line = 18 * ratio;
    const width = Math.max(source.width, 640 * ratio);
    const items = this.legendItems();
    const context = document.createElement("canvas").getContext("2d");
    context.font = `${12 * ratio}px ${Chart.defaults.font.family}`;
    // lay the legend out in rows
    const legendRows = [[]];
    let x = pad;
    for (const [color, text] of items) {
      const itemWidth = 14 * ratio + context.measureText(text).width + 16 * ratio;
      if (x + itemWidth > width - pad && legendRows[legendRows.length - 1].length) {
        legendRows.push([]);
        x = pad;
      }
      legendRows[legendRows.length - 1].push([color, text, x]);
      x += itemWidth;
    }
    const header = pad + line * 1.4 + line * 2 + (items.length ? legendRows.length * line : 0);
    const footer = line + pad;
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = header + source.height + footer;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.textBaseline = "top";
    ctx.fillStyle = "#1b2430";
    ctx.font = `600 ${16 * ratio}px ${Chart.defaults.font.family}`;
    ctx.fillText(this.title, pad, pad);
    ctx.font = `${12 * ratio}px ${Chart.defaults.font.family}`;
    ctx.fillStyle = "#3b4654";
    let y = pad + line * 1.4;
    ctx.fillText(`${t("window")}: ${windowText(this.meta)}`, pad, y);
    y += line;
    ctx.fillText(this.contextText, pad, y);
    y += line;
    for (const row of items.length ? legendRows : []) {
      for (const [color, text, left] of row) {
        ctx.fillStyle = color;
        ctx.fillRect(left, y + 2 * ratio, 10 * ratio, 10 * ratio);
        ctx.fillStyle = "#3b4654";
        ctx.fillText(text, left + 14 * ratio, y);
      }
      y += line;
    }
    ctx.drawImage(source, 0, header);
    ctx.fillStyle = "#5b6675";
    ctx.fillText(`${t("hubName")}: ${config.hub} · ${t("generatedAt")} ${config.today} · ${window.location.href}`, pad, header + source.height + pad / 2);
    return canvas.toDataURL("image/png");
  }

  exportPNG() {
    if (this.chart) download(this.composedImage(), `${this.id}.png`);
  }

  /** Metadata rows first (what, where, when), a blank row, then the table. */
  csvText() {
    const meta = [
      [this.title],
      [t("hubName"), config.hub],
      [t("window"), windowText(this.meta)],
      [t("kpiAnalyses"), this.meta && this.meta.analyses !== undefined && this.meta.analyses !== null ? this.meta.analyses : ""],
      [config.mode === "global" ? t("hubs") : t("kpiOrganisations"), this.meta && this.meta.organisations !== undefined && this.meta.organisations !== null ? this.meta.organisations : ""],
      [t("generatedAt"), config.today],
      [t("source"), new URL(this.dataLink.getAttribute("href"), window.location.href).href],
      [],
    ];
    return "\ufeff" + toCSV([...meta, ...this.rows(this.chart)]);
  }

  exportCSV() {
    if (!this.chart) return;
    const blob = new Blob([this.csvText()], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    download(url, `${this.id}.csv`);
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

/** Run ``render`` for a card, showing its loading, empty and error states. */
export async function guarded(card, render) {
  card.loading();
  try {
    await render();
  } catch (error) {
    card.failed(error);
  }
}

/** Mark the page as settled (tests and screenshots wait for this). */
export function settled() {
  document.body.dataset.ready = String(Number(document.body.dataset.ready || 0) + 1);
}

/** Wrap a long label onto several lines for a category axis (narrower on a phone). */
export function wrapLabel(text, width = window.innerWidth < 640 ? 18 : 28) {
  const words = String(text).split(/\s+/);
  const lines = [];
  let line = "";
  for (const word of words) {
    if (line && (line + " " + word).length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

export function formatNumber(value, digits = 2) {
  return new Intl.NumberFormat(config.language, { maximumFractionDigits: digits }).format(value);
}

export function mean(values) {
  const numbers = values.filter((v) => v !== null && v !== undefined && Number.isFinite(Number(v))).map(Number);
  return numbers.length ? numbers.reduce((a, b) => a + b, 0) / numbers.length : null;
}

/** A page-wide note (one line), e.g. why the community series is missing. */
export function setNote(id, text) {
  const note = document.getElementById(id);
  if (!note) return;
  note.textContent = text || "";
  note.hidden = !text;
}

/** The URL of another dashboard page with a view, keeping the language. */
export function pageURL(path, params) {
  const query = new URLSearchParams(params);
  const lang = new URLSearchParams(window.location.search).get("lang");
  if (lang) query.set("lang", lang);
  return `${path.split("?")[0]}?${query}`;
}

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

/** Query parameters for the toolbar's window selector ("latest" or a number of days). */
export function windowParams() {
  const value = toolbarValue("window");
  if (!value) return {};
  return value === "latest" ? { last_stats: 1 } : { days: value };
}

/** Call ``handler`` whenever a toolbar control changes. */
export function onToolbarChange(handler) {
  for (const element of document.querySelectorAll("#toolbar [data-control]")) {
    element.addEventListener("change", handler);
  }
}

/** Whether a community series of ``processor`` was pulled (local hubs only). */
export function communityPeriod(processor) {
  return config.community[processor] || null;
}

/** The community series of ``processor`` stored by stats_pull, or null. */
export async function communitySeries(processor) {
  if (!communityPeriod(processor)) return null;
  try {
    return await getJSON(config.urls.community, { processor });
  } catch {
    return null;
  }
}

function download(url, filename) {
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "number" ? String(Math.round(value * 1e6) / 1e6) : String(value);
  return /[",\n\r;]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV text from rows of cells (first row: header). */
export function toCSV(rows) {
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/** Rows of a category chart: one line per label, one column per dataset. */
function defaultRows(chart) {
  const datasets = chart.data.datasets;
  const header = [t("label"), ...datasets.map((d) => d.label)];
  const rows = chart.data.labels.map((label, i) => [
    Array.isArray(label) ? label.join(" ") : label,
    ...datasets.map((d) => {
      const point = d.data[i];
      return point !== null && typeof point === "object" ? point.y : point;
    }),
  ]);
  return [header, ...rows];
}

/** One chart in its card: loading/empty/error states, redraws, PNG and CSV export. */
export class ChartCard {
  constructor(id, { rows } = {}) {
    this.id = id;
    this.card = document.getElementById(`card-${id}`);
    this.canvas = document.getElementById(`chart-${id}`);
    this.message = this.card.querySelector('[data-role="message"]');
    this.rows = rows || defaultRows;
    this.chart = null;
    this.card.querySelector('[data-export="png"]').addEventListener("click", () => this.exportPNG());
    this.card.querySelector('[data-export="csv"]').addEventListener("click", () => this.exportCSV());
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

  setState(state, text) {
    this.card.dataset.state = state;
    this.message.textContent = text || "";
  }

  loading() {
    this.setState("loading", t("loading"));
  }

  empty(text) {
    this.destroy();
    this.setState("empty", text || t("noData"));
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

  /** Draw a Chart.js configuration, replacing the previous chart. */
  draw(chartConfig) {
    this.destroy();
    this.setState("ready", "");
    this.chart = new Chart(this.canvas, chartConfig);
    this.card.dataset.version = String(Number(this.card.dataset.version || 0) + 1);
    return this.chart;
  }

  exportPNG() {
    if (this.chart) download(this.chart.toBase64Image("image/png", 1), `${this.id}.png`);
  }

  exportCSV() {
    if (!this.chart) return;
    const blob = new Blob([toCSV(this.rows(this.chart))], { type: "text/csv;charset=utf-8" });
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

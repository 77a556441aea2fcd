/* Weather page: the forecasts of the chosen group of series, each drawn as its weekly history
 * (solid), the forecast mean (dashed) and its 80 % and 95 % prediction intervals (bands). The
 * states and warnings are in the page itself; the numbers come from /stats/weather.json. */
import {
  ChartCard, config, formatNumber, getJSON, periodLabel, pushView, settled, t, toolbarValue,
} from "./dashboard.js";

const COLORS = { history: "#1d4e89", forecast: "#f3722c", band80: "rgba(243, 114, 44, 0.30)", band95: "rgba(243, 114, 44, 0.14)" };
const PERCENT = new Set(["share", "current"]);
const url = document.querySelector("#weather-as-of a").getAttribute("href");
const cards = new Map();
let weather = null;

function scaled(metric, value) {
  return PERCENT.has(metric) ? value * 100 : value;
}

/** CSV rows of one forecast: every week, its figure, then the forecast and its intervals. */
function rowsOf(entry) {
  return () => {
    const header = [t("period"), t("value"), "mean", "lower80", "upper80", "lower95", "upper95"];
    const past = entry.history.map((p) => [p.date, p.value, null, null, null, null, null]);
    const future = entry.forecast.map((p) => [p.date, null, p.mean, p.lower80, p.upper80, p.lower95, p.upper95]);
    return [header, ...past, ...future];
  };
}

function cardFor(entry) {
  if (!cards.has(entry.anchor)) {
    const card = new ChartCard(entry.anchor, { rows: rowsOf(entry) });
    cards.set(entry.anchor, card);
  }
  return cards.get(entry.anchor);
}

function draw(entry) {
  const card = cardFor(entry);
  if (entry.status !== "forecast" || !entry.forecast.length) {
    card.setState("empty", card.message.textContent);
    return;
  }
  const dates = [...entry.history.map((p) => p.date), ...entry.forecast.map((p) => p.date)];
  const at = new Map(entry.forecast.map((p) => [p.date, p]));
  const last = entry.history[entry.history.length - 1];
  const value = (key) => dates.map((d) => {
    if (at.has(d)) return scaled(entry.metric, at.get(d)[key]);
    return last && d === last.date ? scaled(entry.metric, last.value) : null; // bands start at the last week
  });
  const past = new Map(entry.history.map((p) => [p.date, p.value]));
  const band = (label, color) => ({ label, borderWidth: 0, pointRadius: 0, backgroundColor: color });
  card.meta = { date_from: entry.history.length ? entry.history[0].date : null, date_to: weather.as_of, period: "week" };
  card.contextLine.textContent = `${entry.history.length} ${t("week").toLowerCase()} · ${weather.as_of}`;
  card.draw({
    type: "line",
    data: {
      labels: dates.map((d) => periodLabel(d, "week")),
      datasets: [
        { ...band("95 %", COLORS.band95), data: value("upper95"), fill: false },
        { ...band("95 %", COLORS.band95), data: value("lower95"), fill: "-1" },
        { ...band("80 %", COLORS.band80), data: value("upper80"), fill: false },
        { ...band("80 %", COLORS.band80), data: value("lower80"), fill: "-1" },
        {
          label: entry.label, data: dates.map((d) => (past.has(d) ? scaled(entry.metric, past.get(d)) : null)),
          borderColor: COLORS.history, backgroundColor: COLORS.history, pointRadius: 0, spanGaps: false,
        },
        {
          label: "forecast", data: value("mean"), borderColor: COLORS.forecast, backgroundColor: COLORS.forecast,
          borderDash: [6, 4], pointRadius: 2,
        },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: false },
        tooltip: {
          filter: (item) => item.parsed.y !== null,
          callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.parsed.y)}${PERCENT.has(entry.metric) ? " %" : ""}` },
        },
      },
      scales: {
        x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { beginAtZero: true, ...(PERCENT.has(entry.metric) ? { suggestedMax: 100 } : {}) },
      },
    },
  });
}

function wantedGroup() {
  const hash = window.location.hash.slice(1);
  const target = hash && document.getElementById(hash);
  return target && target.dataset.group ? target.dataset.group : toolbarValue("group");
}

function show() {
  const group = wantedGroup();
  const select = document.querySelector('#toolbar [data-control="group"]');
  if (select.value !== group && [...select.options].some((o) => o.value === group)) select.value = group;
  for (const element of document.querySelectorAll("#weather-charts [data-group]")) {
    element.hidden = element.dataset.group !== select.value;
  }
  for (const entry of weather.series) if (entry.group === select.value || groupOf(entry) === select.value) draw(entry);
  const hash = window.location.hash.slice(1);
  if (hash && document.getElementById(hash)) document.getElementById(hash).scrollIntoView();
}

function groupOf(entry) {
  return entry.type === "threat" || entry.type === "vulnerability" ? `${entry.type}-${entry.metric}` : entry.category;
}

async function load() {
  try {
    weather = await getJSON(url, { lang: config.language });
    for (const entry of weather.series) entry.group = groupOf(entry);
    show();
  } catch (error) {
    for (const card of document.querySelectorAll("#weather-charts [data-group]")) {
      card.dataset.state = "error";
    }
    console.warn("weather:", error);
  }
  settled();
}

document.querySelector('#toolbar [data-control="group"]').addEventListener("change", () => {
  if (window.location.hash) window.history.replaceState(null, "", window.location.pathname + window.location.search);
  pushView();
  show();
});
window.addEventListener("popstate", () => weather && show());
window.addEventListener("hashchange", () => weather && show());
load();

/* Evolution page: risk levels and top threats/vulnerabilities over day..year periods, labelled as
 * periods (2026-W48, 2026-Q3, 2026); years as bars. A local hub's community lines are computed by the
 * hub from the community's pulled days over the same window and in the same period as the local
 * lines, for every period; a note says when the community has no data for them. */
import {
  ChartCard, LEVELS, LEVEL_COLORS, PALETTE, communityHasData, communitySeries, config, formatNumber, getJSON,
  guarded, labelOf, onHistory, onToolbarChange, periodLabel, setNote, settled, t, toolbarValue, windowParams,
} from "./dashboard.js";

const TOP_N = 5;
/** Five daily lines over months are a tangle: by day, only the top three, without point markers. */
const TOP_N_DAY = 3;
const METRIC_AXIS = { averageRate: "probabilityScale", count: "occurrenceScale", maxRisk: "maxRiskScale" };
const usLabel = config.mode === "global" ? t("community") : t("us");
const period = () => toolbarValue("period");

const cards = {
  risks: new ChartCard("risk-evolution", { firstColumn: () => t("period") }),
  threats: new ChartCard("threat-evolution", { firstColumn: () => t("period") }),
  vulnerabilities: new ChartCard("vulnerability-evolution", { firstColumn: () => t("period") }),
};
const data = {};
const focus = () => new URLSearchParams(window.location.search);

function chartType() {
  return period() === "year" ? "bar" : "line";
}

function lineOptions(yTitle) {
  const day = period() === "day";
  return {
    interaction: { mode: "nearest", axis: "x", intersect: false },
    elements: { point: { radius: day ? 0 : 3, hitRadius: 6 } },
    plugins: {
      tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.parsed.y)}` } },
    },
    scales: {
      x: { ticks: { maxRotation: 0, autoSkipPadding: 12 }, title: { display: true, text: t(period()) } },
      y: { beginAtZero: true, title: { display: Boolean(yTitle), text: yTitle } },
    },
  };
}

/** Sorted union of the dates of several [{date, ...}] series. */
function dateAxis(seriesList) {
  const dates = new Set();
  for (const series of seriesList) for (const point of series) dates.add(point.date);
  return [...dates].sort();
}

function alignTo(dates, series, value) {
  const byDate = new Map(series.map((point) => [point.date, point]));
  return dates.map((date) => (byDate.has(date) ? Number(value(byDate.get(date))) : null));
}

/** The community's points of one series (already in the shown window and period), or null. */
function communityPoints(community, points) {
  return communityHasData(community) && points && points.length ? points : null;
}

function styled(dataset, color, community) {
  const bar = chartType() === "bar";
  return {
    ...dataset,
    borderColor: color,
    backgroundColor: bar && community ? `${color}80` : color,
    ...(community && !bar ? { borderDash: [6, 4], pointStyle: "triangle" } : {}),
    tension: 0.25,
    spanGaps: true,
  };
}

function draw(card, dates, datasets, yTitle, extra = {}) {
  const options = lineOptions(yTitle);
  Object.assign(options.plugins, extra);
  card.draw({
    type: chartType(),
    data: { labels: dates.map((date) => periodLabel(date, period())), datasets },
    options,
  });
}

let communityState = { offered: false, drawn: false };

function drawRisks(card) {
  const kind = card.control("kind");
  const state = card.control("state");
  const tree = data.risks && data.risks[state] && data.risks[state][kind];
  if (!tree || !LEVELS.some((level) => (tree[level] || []).length)) return card.empty();
  const community = data.risksCommunity;
  const communityTree = community && community.data && community.data[state] && community.data[state][kind];
  const series = LEVELS.map((level) => tree[level] || []);
  const communityList = communityTree
    ? LEVELS.map((level) => communityPoints(community, communityTree[level]))
    : [];
  const usable = communityList.filter((points) => points && points.length);
  if (community) communityState.offered = true;
  if (usable.length) communityState.drawn = true;
  const dates = dateAxis([...series, ...usable]);
  const datasets = LEVELS.map((level, i) =>
    styled({ label: `${t(level)} — ${usLabel}`, data: alignTo(dates, series[i], (p) => p.value) }, LEVEL_COLORS[level], false));
  communityList.forEach((points, i) => {
    if (!points || !points.length) return;
    datasets.push(styled({
      label: `${t(LEVELS[i])} — ${t("community")}`, data: alignTo(dates, points, (p) => p.value),
    }, LEVEL_COLORS[LEVELS[i]], true));
  });
  draw(card, dates, datasets, t("risksPerAnalysis"));
}

function drawTop(card, kind, items, community) {
  if (!items || !items.length) return card.empty();
  const metric = card.control("metric");
  const wanted = focus().get(kind);
  const ranked = [...items].sort((a, b) => Number(b.averages[metric]) - Number(a.averages[metric]));
  let top = ranked.slice(0, period() === "day" ? TOP_N_DAY : TOP_N);
  const chosen = wanted && items.find((item) => item.object === wanted);
  if (chosen) top = [chosen, ...top.filter((item) => item !== chosen)].slice(0, top.length);
  const byObject = new Map(community && Array.isArray(community.data) ? community.data.map((i) => [i.object, i]) : []);
  if (community) communityState.offered = true;
  const twins = top.map((item) =>
    byObject.has(item.object) ? communityPoints(community, byObject.get(item.object).values) : null);
  if (twins.some((points) => points && points.length)) communityState.drawn = true;
  const dates = dateAxis([...top.map((item) => item.values), ...twins.filter(Boolean)]);
  const datasets = top.map((item, i) => styled({
    label: labelOf(item.labels),
    data: alignTo(dates, item.values, (p) => p[metric]),
    ...(item === chosen ? { borderWidth: 4 } : {}),
  }, PALETTE[i % PALETTE.length], false));
  top.forEach((item, i) => {
    if (!twins[i] || !twins[i].length) return;
    datasets.push(styled({
      community: true,
      label: `${labelOf(item.labels)} — ${t("community")}`,
      data: alignTo(dates, twins[i], (p) => p[metric]),
    }, PALETTE[i % PALETTE.length], true));
  });
  // one legend entry per object: its community twin shares its colour (dashed, see the note)
  const legend = { labels: { filter: (entry, chartData) => !chartData.datasets[entry.datasetIndex].community } };
  draw(card, dates, datasets, t(METRIC_AXIS[metric]), { legend });
}

function communityNote() {
  if (!communityState.offered) return setNote("community-note", "");
  setNote("community-note", communityState.drawn ? t("communityNote") : t("communityMissing"));
}

async function load() {
  const params = { ...windowParams(), period: period() };
  communityState = { offered: false, drawn: false };
  await Promise.all([
    guarded(cards.risks, async () => {
      const query = { ...params, processor: "risk_averages_on_date" };
      const body = await getJSON(config.urls.risks, query);
      cards.risks.setSource(config.urls.risks, query, body);
      data.risks = body.data;
      data.risksCommunity = await communitySeries("risk_averages_on_date", body, period());
      drawRisks(cards.risks);
    }),
    guarded(cards.threats, async () => {
      const body = await getJSON(config.urls.threats, params);
      cards.threats.setSource(config.urls.threats, params, body);
      data.threats = body.data;
      data.threatsCommunity = await communitySeries("threat_average_on_date", body, period());
      drawTop(cards.threats, "threat", data.threats, data.threatsCommunity);
    }),
    guarded(cards.vulnerabilities, async () => {
      const body = await getJSON(config.urls.vulnerabilities, params);
      cards.vulnerabilities.setSource(config.urls.vulnerabilities, params, body);
      data.vulnerabilities = body.data;
      data.vulnerabilitiesCommunity = await communitySeries("vulnerability_average_on_date", body, period());
      drawTop(cards.vulnerabilities, "vulnerability", data.vulnerabilities, data.vulnerabilitiesCommunity);
    }),
  ]);
  communityNote();
  settled();
}

cards.risks.onControlChange(() => drawRisks(cards.risks));
cards.threats.onControlChange(() => drawTop(cards.threats, "threat", data.threats, data.threatsCommunity));
cards.vulnerabilities.onControlChange(() =>
  drawTop(cards.vulnerabilities, "vulnerability", data.vulnerabilities, data.vulnerabilitiesCommunity));
onToolbarChange(load);
onHistory(load);
load();

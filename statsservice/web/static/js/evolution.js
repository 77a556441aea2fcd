/* Evolution page: risk levels and top threats/vulnerabilities as lines over day..year periods. A local
 * hub that pulled community series overlays them as dashed lines when the periods match. */
import {
  ChartCard, LEVELS, LEVEL_COLORS, PALETTE, communityPeriod, communitySeries, config, formatNumber,
  getJSON, guarded, labelOf, onToolbarChange, settled, t, toolbarValue, windowParams,
} from "./dashboard.js";

const TOP_N = 5;
const usLabel = config.mode === "global" ? t("community") : t("us");

const cards = {
  risks: new ChartCard("risk-evolution"),
  threats: new ChartCard("threat-evolution"),
  vulnerabilities: new ChartCard("vulnerability-evolution"),
};
const data = {};

function lineOptions(yTitle) {
  return {
    interaction: { mode: "nearest", axis: "x", intersect: false },
    plugins: {
      tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.parsed.y)}` } },
    },
    scales: {
      x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } },
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

/** The community series applies only when pulled for the period shown. */
function communityFor(series) {
  return series && series.period === toolbarValue("period") ? series : null;
}

function drawRisks(card) {
  const kind = card.control("kind");
  const state = card.control("state");
  const tree = data.risks && data.risks[state] && data.risks[state][kind];
  if (!tree || !LEVELS.some((level) => (tree[level] || []).length)) return card.empty();
  const community = communityFor(data.risksCommunity);
  const communityTree = community && community.data[state] && community.data[state][kind];
  const series = LEVELS.map((level) => tree[level] || []);
  const communitySeriesList = communityTree ? LEVELS.map((level) => communityTree[level] || []) : [];
  const dates = dateAxis([...series, ...communitySeriesList]);
  const datasets = LEVELS.map((level, i) => ({
    label: `${t(level)} — ${usLabel}`,
    data: alignTo(dates, series[i], (p) => p.value),
    borderColor: LEVEL_COLORS[level],
    backgroundColor: LEVEL_COLORS[level],
    tension: 0.25,
    spanGaps: true,
  }));
  communitySeriesList.forEach((points, i) => {
    datasets.push({
      label: `${t(LEVELS[i])} — ${t("community")}`,
      data: alignTo(dates, points, (p) => p.value),
      borderColor: LEVEL_COLORS[LEVELS[i]],
      backgroundColor: LEVEL_COLORS[LEVELS[i]],
      borderDash: [6, 4],
      pointStyle: "triangle",
      tension: 0.25,
      spanGaps: true,
    });
  });
  card.draw({ type: "line", data: { labels: dates, datasets }, options: lineOptions(t("risks")) });
}

function drawTop(card, items, community) {
  if (!items || !items.length) return card.empty();
  const metric = card.control("metric");
  const top = [...items]
    .sort((a, b) => Number(b.averages[metric]) - Number(a.averages[metric]))
    .slice(0, TOP_N);
  const matching = communityFor(community);
  const byObject = new Map(matching && Array.isArray(matching.data) ? matching.data.map((i) => [i.object, i]) : []);
  const communityItems = top.map((item) => byObject.get(item.object)).filter(Boolean);
  const dates = dateAxis([...top.map((item) => item.values), ...communityItems.map((item) => item.values)]);
  const datasets = top.map((item, i) => ({
    label: labelOf(item.labels),
    data: alignTo(dates, item.values, (p) => p[metric]),
    borderColor: PALETTE[i % PALETTE.length],
    backgroundColor: PALETTE[i % PALETTE.length],
    tension: 0.25,
    spanGaps: true,
  }));
  top.forEach((item, i) => {
    const other = byObject.get(item.object);
    if (!other) return;
    datasets.push({
      community: true,
      label: `${labelOf(item.labels)} — ${t("community")}`,
      data: alignTo(dates, other.values, (p) => p[metric]),
      borderColor: PALETTE[i % PALETTE.length],
      backgroundColor: PALETTE[i % PALETTE.length],
      borderDash: [6, 4],
      pointStyle: "triangle",
      tension: 0.25,
      spanGaps: true,
    });
  });
  const metricText = { averageRate: t("probability"), count: t("occurrence"), maxRisk: t("maxRisk") }[metric];
  const options = lineOptions(metricText);
  // one legend entry per object: its community twin shares its colour (dashed, see the note)
  options.plugins.legend = { labels: { filter: (item, chartData) => !chartData.datasets[item.datasetIndex].community } };
  card.draw({ type: "line", data: { labels: dates, datasets }, options });
}

async function load() {
  const params = { ...windowParams(), period: toolbarValue("period") };
  await Promise.all([
    guarded(cards.risks, async () => {
      data.risks = (await getJSON(config.urls.risks, { ...params, processor: "risk_averages_on_date" })).data;
      data.risksCommunity = await communitySeries("risk_averages_on_date");
      drawRisks(cards.risks);
    }),
    guarded(cards.threats, async () => {
      data.threats = (await getJSON(config.urls.threats, params)).data;
      data.threatsCommunity = await communitySeries("threat_average_on_date");
      drawTop(cards.threats, data.threats, data.threatsCommunity);
    }),
    guarded(cards.vulnerabilities, async () => {
      data.vulnerabilities = (await getJSON(config.urls.vulnerabilities, params)).data;
      data.vulnerabilitiesCommunity = await communitySeries("vulnerability_average_on_date");
      drawTop(cards.vulnerabilities, data.vulnerabilities, data.vulnerabilitiesCommunity);
    }),
  ]);
  const note = document.getElementById("community-note");
  note.hidden = !["risk_averages_on_date", "threat_average_on_date"].some(
    (name) => communityPeriod(name) === toolbarValue("period"));
  settled();
}

cards.risks.onControlChange(() => drawRisks(cards.risks));
cards.threats.onControlChange(() => drawTop(cards.threats, data.threats, data.threatsCommunity));
cards.vulnerabilities.onControlChange(() =>
  drawTop(cards.vulnerabilities, data.vulnerabilities, data.vulnerabilitiesCommunity));
onToolbarChange(load);
load();

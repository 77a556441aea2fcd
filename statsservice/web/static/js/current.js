/* Current page: top threats and vulnerabilities by a chosen measure, risk levels current vs residual. */
import {
  ChartCard, LEVELS, PALETTE, STATE_COLORS, communitySeries, config, formatNumber, getJSON, guarded,
  labelOf, onToolbarChange, settled, t, windowParams, wrapLabel,
} from "./dashboard.js";

const TOP_N = 10;
const METRIC_TEXT = { averageRate: "probability", count: "occurrence", maxRisk: "maxRisk" };
const usLabel = config.mode === "global" ? t("community") : t("us");

const cards = {
  threats: new ChartCard("top-threats"),
  vulnerabilities: new ChartCard("top-vulnerabilities"),
  risks: new ChartCard("risk-levels"),
};
const data = {};

function topItems(items, metric) {
  return [...items]
    .sort((a, b) => Number(b.averages[metric]) - Number(a.averages[metric]))
    .slice(0, TOP_N);
}

function drawTop(card, items, community) {
  if (!items || !items.length) return card.empty();
  const metric = card.control("metric");
  const top = topItems(items, metric);
  const datasets = [{
    label: `${t(METRIC_TEXT[metric])} — ${usLabel}`,
    data: top.map((item) => Number(item.averages[metric])),
    backgroundColor: PALETTE[0],
    borderRadius: 3,
  }];
  if (community && Array.isArray(community.data)) {
    const byObject = new Map(community.data.map((item) => [item.object, item]));
    datasets.push({
      label: `${t(METRIC_TEXT[metric])} — ${t("community")}`,
      data: top.map((item) => (byObject.has(item.object) ? Number(byObject.get(item.object).averages[metric]) : null)),
      backgroundColor: PALETTE[1],
      borderRadius: 3,
    });
  }
  card.draw({
    type: "bar",
    data: { labels: top.map((item) => wrapLabel(labelOf(item.labels))), datasets },
    options: {
      indexAxis: "y",
      plugins: {
        legend: { display: datasets.length > 1 },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.parsed.x)}` } },
      },
      scales: { x: { beginAtZero: true }, y: { ticks: { autoSkip: false, font: { size: 11 } } } },
    },
  });
}

function drawRisks(card, risks, community) {
  const kind = card.control("kind");
  const states = ["current", "residual"].filter((state) => risks && risks[state] && risks[state][kind]);
  if (!states.length) return card.empty();
  const datasets = states.map((state) => ({
    label: `${t(state)} — ${usLabel}`,
    data: LEVELS.map((level) => Number(risks[state][kind][level] ?? 0)),
    backgroundColor: STATE_COLORS[state],
    borderRadius: 3,
  }));
  if (community && community.data) {
    for (const state of states) {
      const tree = community.data[state] && community.data[state][kind];
      if (!tree) continue;
      datasets.push({
        label: `${t(state)} — ${t("community")}`,
        data: LEVELS.map((level) => Number(tree[level] ?? 0)),
        backgroundColor: state === "current" ? PALETTE[1] : "#f9c74f",
        borderRadius: 3,
      });
    }
  }
  card.draw({
    type: "bar",
    data: { labels: LEVELS.map((level) => t(level)), datasets },
    options: {
      plugins: {
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.parsed.y)}` } },
      },
      scales: { y: { beginAtZero: true, title: { display: true, text: t("risks") } } },
    },
  });
}

async function load() {
  const params = windowParams();
  await Promise.all([
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
    guarded(cards.risks, async () => {
      data.risks = (await getJSON(config.urls.risks, { ...params, processor: "risk_averages" })).data;
      data.risksCommunity = await communitySeries("risk_averages");
      drawRisks(cards.risks, data.risks, data.risksCommunity);
    }),
  ]);
  settled();
}

cards.threats.onControlChange(() => drawTop(cards.threats, data.threats, data.threatsCommunity));
cards.vulnerabilities.onControlChange(() =>
  drawTop(cards.vulnerabilities, data.vulnerabilities, data.vulnerabilitiesCommunity));
cards.risks.onControlChange(() => drawRisks(cards.risks, data.risks, data.risksCommunity));
onToolbarChange(load);
load();

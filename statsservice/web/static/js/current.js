/* Current page: KPI tiles, top threats and vulnerabilities by a chosen measure, risk levels current vs
 * residual. A bar opens that threat's (or vulnerability's) evolution. A local hub's community bars are
 * computed by the hub over the same window as its own, the same way (weighted by the analyses). */
import {
  ChartCard, LEVELS, PALETTE, STATE_COLORS, communityHasData, communitySeries, config, formatNumber, getJSON,
  guarded, labelOf, onHistory, onToolbarChange, pageURL, setNote, settled, shiftDay, t, toolbarValue,
  windowParams, wrapLabel,
} from "./dashboard.js";

const TOP_N = 10;
const METRIC_TEXT = { averageRate: "probability", count: "occurrence", maxRisk: "maxRisk" };
const METRIC_AXIS = { averageRate: "probabilityScale", count: "occurrenceScale", maxRisk: "maxRiskScale" };
const usLabel = config.mode === "global" ? t("community") : t("us");

const cards = {
  threats: new ChartCard("top-threats", { firstColumn: t("threat") }),
  vulnerabilities: new ChartCard("top-vulnerabilities", { firstColumn: t("vulnerability") }),
  risks: new ChartCard("risk-levels", { firstColumn: t("level") }),
};
const data = {};

function topItems(items, metric) {
  return [...items]
    .sort((a, b) => Number(b.averages[metric]) - Number(a.averages[metric]))
    .slice(0, TOP_N);
}

/** The community's mean of ``metric`` for an object over the window (null: the community lacks it). */
function communityValue(item, metric) {
  return item && item.averages ? Number(item.averages[metric]) : null;
}

/** Clicking a bar opens its evolution with the same window and measure. */
function drillDown(kind, card, top) {
  return (_event, elements) => {
    if (!elements.length) return;
    const item = top[elements[0].index];
    const params = { [kind]: item.object, [`${kind}-evolution-metric`]: card.control("metric") };
    const win = toolbarValue("window");
    if (win && win !== "latest") params.window = win;
    if (win === "custom") Object.assign(params, { from: toolbarValue("from"), to: toolbarValue("to") });
    window.location.href = pageURL(config.urls.evolution, params);
  };
}

function drawTop(card, kind, items, community) {
  if (!items || !items.length) return card.empty();
  const metric = card.control("metric");
  const top = topItems(items, metric);
  const datasets = [{
    label: `${t(METRIC_TEXT[metric])} — ${usLabel}`,
    data: top.map((item) => Number(item.averages[metric])),
    backgroundColor: PALETTE[0],
    borderRadius: 3,
  }];
  let note = "";
  if (community && Array.isArray(community.data)) {
    const byObject = new Map(community.data.map((item) => [item.object, item]));
    const values = top.map((item) => communityValue(byObject.get(item.object), metric));
    if (communityHasData(community) && values.some((v) => v !== null)) {
      datasets.push({
        label: `${t(METRIC_TEXT[metric])} — ${t("community")}`,
        data: values,
        backgroundColor: PALETTE[1],
        borderRadius: 3,
      });
      note = t("communityNote");
    } else {
      note = t("communityMissing");
    }
  }
  setNote("community-note", note);
  card.draw({
    type: "bar",
    data: { labels: top.map((item) => wrapLabel(labelOf(item.labels))), datasets },
    options: {
      indexAxis: "y",
      onClick: drillDown(kind, card, top),
      plugins: {
        legend: { display: datasets.length > 1 },
        tooltip: {
          callbacks: {
            label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.parsed.x)}`,
            afterBody: () => t("openEvolution"),
          },
        },
      },
      scales: {
        x: { beginAtZero: true, title: { display: true, text: t(METRIC_AXIS[metric]) } },
        y: { ticks: { autoSkip: false, font: { size: 11 } } },
      },
    },
  });
}

/** The community's risk levels over the window (risk_averages, computed as the local ones). */
function communityLevels(community, state, kind) {
  const tree = communityHasData(community) && community.data[state] && community.data[state][kind];
  return tree ? LEVELS.map((level) => Number(tree[level] ?? 0)) : null;
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
  for (const state of states) {
    const values = communityLevels(community, state, kind);
    if (!values) continue;
    datasets.push({
      label: `${t(state)} — ${t("community")}`,
      data: values,
      backgroundColor: state === "current" ? PALETTE[1] : "#f9c74f",
      borderRadius: 3,
    });
  }
  card.draw({
    type: "bar",
    data: { labels: LEVELS.map((level) => t(level)), datasets },
    options: {
      plugins: {
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.parsed.y)}` } },
      },
      scales: { y: { beginAtZero: true, title: { display: true, text: t("risksPerAnalysis") } } },
    },
  });
}

/** The window just before the shown one, as long (null for "latest snapshots"). */
function previousWindow(meta) {
  if (!meta || !meta.date_from || toolbarValue("window") === "latest") return null;
  const length = Math.round((Date.parse(meta.date_to) - Date.parse(meta.date_from)) / 86400000) + 1;
  return { date_from: shiftDay(meta.date_from, -length), date_to: shiftDay(meta.date_from, -1) };
}

function setKPI(name, value, delta, digits = 1) {
  const tile = document.querySelector(`[data-kpi="${name}"]`);
  tile.querySelector(".kpi-value").textContent = value === null || value === undefined ? "—" : value;
  const deltaText = delta === null || delta === undefined || !Number.isFinite(delta)
    ? ""
    : `${delta >= 0 ? "+" : "−"}${formatNumber(Math.abs(delta), digits)} ${t("previous")}`;
  tile.querySelector(".kpi-delta").textContent = deltaText;
}

function highRisks(body) {
  const tree = body && body.data && body.data.current && body.data.current.informational;
  return tree && tree["High risks"] !== undefined ? Number(tree["High risks"]) : null;
}

async function drawKPIs(risksBody) {
  const previous = previousWindow(risksBody);
  let before = null;
  if (previous) {
    try {
      before = await getJSON(config.urls.risks, { ...previous, processor: "risk_averages" });
    } catch {
      before = null;
    }
  }
  const now = highRisks(risksBody);
  const then = before && before.analyses ? highRisks(before) : null;
  setKPI("high", now === null ? null : formatNumber(now, 1), now !== null && then !== null ? now - then : null);
  // counts below k are not published (null): the KPI says "fewer than k", with no change
  const count = (value) => (value === null ? t("fewerThan").replace("%(k)s", config.minOrganisations) : formatNumber(value, 0));
  const change = (name) => (before && risksBody[name] !== null && before[name] !== null ? risksBody[name] - before[name] : null);
  setKPI("analyses", count(risksBody.analyses), change("analyses"), 0);
  setKPI("organisations", count(risksBody.organisations), change("organisations"), 0);
  const top = data.threats && data.threats.length ? topItems(data.threats, "averageRate")[0] : null;
  setKPI("threat", top ? `${labelOf(top.labels)} (${formatNumber(Number(top.averages.averageRate), 2)})` : null, null);
}

async function load() {
  const params = windowParams();
  await Promise.all([
    guarded(cards.threats, async () => {
      const body = await getJSON(config.urls.threats, params);
      cards.threats.setSource(config.urls.threats, params, body);
      data.threats = body.data;
      data.threatsCommunity = await communitySeries("threat_average_on_date", body);
      drawTop(cards.threats, "threat", data.threats, data.threatsCommunity);
    }),
    guarded(cards.vulnerabilities, async () => {
      const body = await getJSON(config.urls.vulnerabilities, params);
      cards.vulnerabilities.setSource(config.urls.vulnerabilities, params, body);
      data.vulnerabilities = body.data;
      data.vulnerabilitiesCommunity = await communitySeries("vulnerability_average_on_date", body);
      drawTop(cards.vulnerabilities, "vulnerability", data.vulnerabilities, data.vulnerabilitiesCommunity);
    }),
    guarded(cards.risks, async () => {
      const query = { ...params, processor: "risk_averages" };
      const body = await getJSON(config.urls.risks, query);
      cards.risks.setSource(config.urls.risks, query, body);
      data.risksBody = body;
      data.risks = body.data;
      data.risksCommunity = await communitySeries("risk_averages", body);
      drawRisks(cards.risks, data.risks, data.risksCommunity);
    }),
  ]);
  if (data.risksBody) await drawKPIs(data.risksBody);
  settled();
}

cards.threats.onControlChange(() => drawTop(cards.threats, "threat", data.threats, data.threatsCommunity));
cards.vulnerabilities.onControlChange(() =>
  drawTop(cards.vulnerabilities, "vulnerability", data.vulnerabilities, data.vulnerabilitiesCommunity));
cards.risks.onControlChange(() => drawRisks(cards.risks, data.risks, data.risksCommunity));
onToolbarChange(load);
onHistory(load);
load();

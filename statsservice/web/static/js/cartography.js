/* Cartography page: the risk heat map as in MONARC, high impact at the top. Each cell holds the mean
 * number of risks per analysis at that impact × likelihood (operational risks: impact × probability);
 * its colour is the risk zone of its risk value (impact × likelihood) against MONARC's thresholds,
 * deeper when the cell holds more risks. Drawn with the chartjs-chart-matrix controller. A local hub
 * that pulled the community's series draws the community's heat map of the same window beside its
 * own, computed the same way; its cells say the difference with this hub. */
import {
  ChartCard, communityHasData, communityOffered, communitySeries, config, formatNumber, getJSON, guarded,
  onHistory, onToolbarChange, setNote, settled, t, windowParams,
} from "./dashboard.js";

const COLUMN = { informational: "likelihood", operational: "probability" };
const ZONES = [
  { key: "zoneLow", rgb: [67, 170, 139] },
  { key: "zoneMedium", rgb: [249, 160, 63] },
  { key: "zoneHigh", rgb: [215, 38, 61] },
];

const card = new ChartCard("heatmap", { rows: csvRows, legend: legendItems });
const offered = communityOffered("cartography_heatmap") && document.getElementById("card-heatmap-community");
const communityCard = offered ? new ChartCard("heatmap-community", { rows: communityRows, legend: legendItems }) : null;
let data = null;
let community = null;

function columnText() {
  return t(COLUMN[card.control("kind")] === "likelihood" ? "likelihood" : "probabilityAxis");
}

function csvRows(chart) {
  return [[t("impact"), columnText(), t("riskValue"), t("cellCount")],
    ...chart.data.datasets[0].data.map((cell) => [Number(cell.y), Number(cell.x), Number(cell.y) * Number(cell.x), cell.v])];
}

/** The community's cells beside this hub's: one row per cell with both values and the difference. */
function communityRows(chart) {
  return [[t("impact"), columnText(), t("riskValue"), t("community"), t("us"), t("difference")],
    ...chart.data.datasets[0].data.map((cell) => [
      Number(cell.y), Number(cell.x), Number(cell.y) * Number(cell.x), cell.v, cell.ours, cell.v - cell.ours])];
}

function thresholds() {
  return config.riskThresholds[card.control("kind")];
}

/** The zone of a risk value: 0 low (up to the first threshold), 1 medium, 2 high (above the second). */
function zone(value) {
  const [low, high] = thresholds();
  if (value <= low) return 0;
  return value <= high ? 1 : 2;
}

function zoneText(index) {
  const [low, high] = thresholds();
  return t(ZONES[index].key).replaceAll("%(low)s", low).replaceAll("%(high)s", high);
}

function legendItems() {
  return [
    ...ZONES.map((z, i) => [`rgb(${z.rgb.join(",")})`, zoneText(i)]),
    ["#ffffff", t("blankCell").replace("%(k)s", config.minOrganisations)],
  ];
}

/** The zone's colour, from pale (few risks) to full (the fullest cell). */
function colour(cell, max) {
  const share = max > 0 ? Math.min(1, cell.v / max) : 0;
  const [r, g, b] = ZONES[zone(Number(cell.x) * Number(cell.y))].rgb;
  return `rgba(${r}, ${g}, ${b}, ${0.3 + 0.7 * share})`;
}

function showLegend(target) {
  const box = target.card.querySelector('[data-role="legend"]');
  box.replaceChildren(...legendItems().map(([color, text]) => {
    const item = document.createElement("span");
    item.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = color;
    item.append(swatch, text);
    return item;
  }));
  box.hidden = false;
}

/* Writes each cell's value in it, so the map reads without hovering (smaller type on a phone). */
const cellValues = {
  id: "cellValues",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const meta = chart.getDatasetMeta(0);
    const max = Math.max(...chart.data.datasets[0].data.map((cell) => cell.v));
    ctx.save();
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    meta.data.forEach((element, i) => {
      const cell = chart.data.datasets[0].data[i];
      const { x, y, width, height } = element.getProps(["x", "y", "width", "height"], true);
      ctx.font = `${width < 30 ? 9 : 11}px system-ui, sans-serif`;
      if (width < 14 || height < 10) return;
      ctx.fillStyle = cell.v / max > 0.5 ? "#ffffff" : "#1b2430";
      ctx.fillText(formatNumber(cell.v, 1), x + width / 2, y + height / 2);
    });
    ctx.restore();
  },
};

/** The cells of one heat map answer for the card's kind and state, as matrix points. */
function points(answer) {
  const kind = card.control("kind");
  const column = COLUMN[kind];
  const cells = (answer && answer[card.control("state")] && answer[card.control("state")][kind]) || [];
  return cells.map((cell) => ({ x: String(cell[column]), y: String(cell.impact), v: cell.value }));
}

/** An axis of the maps shown: with the community beside, the union of both, so cells line up. */
function axis(name) {
  const answers = [data, communityHasData(community) ? community.data : null].filter((a) => a && a.axes);
  return [...new Set(answers.flatMap((a) => a.axes[name] || []))].sort((a, b) => a - b).map(String);
}

function signed(value) {
  return `${value >= 0 ? "+" : "−"}${formatNumber(Math.abs(value))}`;
}

/** Draw one heat map; ``ours`` (the community card): this hub's values, for the difference. */
function drawMap(target, answer, ours = null) {
  const kind = card.control("kind");
  const column = COLUMN[kind];
  let cells = points(answer);
  if (!cells.length) return target.empty(ours ? t("communityMissing") : undefined);
  const columns = axis(column);
  const impacts = axis("impact");
  if (ours) {
    const mine = new Map(points(ours).map((cell) => [`${cell.x}/${cell.y}`, cell.v]));
    cells = cells.map((cell) => ({ ...cell, ours: mine.get(`${cell.x}/${cell.y}`) ?? 0 }));
  }
  // a phone scrolls the grid sideways inside its card rather than squeezing the values out
  const box = target.canvas.parentElement;
  box.style.minWidth = window.innerWidth < 640 ? `${60 + columns.length * 30}px` : "";
  const max = Math.max(...cells.map((cell) => cell.v));
  showLegend(target);
  target.draw({
    type: "matrix",
    data: {
      datasets: [{
        label: ours ? `${t(kind)} — ${t("community")}` : t(kind),
        data: cells,
        backgroundColor: (ctx) => (ctx.raw ? colour(ctx.raw, max) : "transparent"),
        borderColor: "#ffffff",
        borderWidth: 1,
        width: ({ chart }) => (chart.chartArea || {}).width / columns.length - 2,
        height: ({ chart }) => (chart.chartArea || {}).height / impacts.length - 2,
      }],
    },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: () => "",
            label: (ctx) => [
              `${t("impact")}: ${ctx.raw.y}`,
              `${columnText()}: ${ctx.raw.x}`,
              `${t("riskValue")}: ${Number(ctx.raw.x) * Number(ctx.raw.y)} — ${zoneText(zone(Number(ctx.raw.x) * Number(ctx.raw.y)))}`,
              `${formatNumber(ctx.raw.v)} ${t("cellCount")}`,
              ...(ours ? [`${t("us")}: ${formatNumber(ctx.raw.ours)} (${t("difference")}: ${signed(ctx.raw.v - ctx.raw.ours)})`] : []),
            ],
          },
        },
      },
      scales: {
        x: {
          type: "category", labels: columns, offset: true, grid: { display: false },
          title: { display: true, text: columnText() },
        },
        y: {
          // high impact at the top, as on MONARC's risk matrices
          type: "category", labels: impacts, reverse: true, offset: true, grid: { display: false },
          title: { display: true, text: t("impact") },
        },
      },
    },
    plugins: [cellValues],
  });
}

function draw() {
  if (!data || !points(data).length) card.empty();
  else drawMap(card, data);
  if (!communityCard) return;
  const has = communityHasData(community);
  setNote("community-note", has ? t("communityNote") : t("communityMissing"));
  if (has) drawMap(communityCard, community.data, data || {});
  else communityCard.empty(t("communityMissing"));
}

async function load() {
  await guarded(card, async () => {
    const params = windowParams();
    const body = await getJSON(config.urls.cartography, params);
    card.setSource(config.urls.cartography, params, body);
    data = body.data;
    if (communityCard) {
      community = await communitySeries("cartography_heatmap", body);
      const query = community ? { processor: "cartography_heatmap", date_from: community.date_from, date_to: community.date_to } : {};
      communityCard.setSource(config.urls.community, query, community && { ...community, period: "day" });
    }
    draw();
  });
  if (communityCard && card.card.dataset.state === "error") communityCard.failed(new Error(""));
  settled();
}

card.onControlChange(draw);
onToolbarChange(load);
onHistory(load);
load();

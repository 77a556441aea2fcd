/* Cartography page: the risk heat map as in MONARC, high impact at the top. Each cell holds the mean
 * number of risks per analysis at that impact × likelihood (operational risks: impact × probability);
 * its colour is the risk zone of its risk value (impact × likelihood) against MONARC's thresholds,
 * deeper when the cell holds more risks. Drawn with the chartjs-chart-matrix controller. */
import {
  ChartCard, config, formatNumber, getJSON, guarded, onHistory, onToolbarChange, settled, t, windowParams,
} from "./dashboard.js";

const COLUMN = { informational: "likelihood", operational: "probability" };
const ZONES = [
  { key: "zoneLow", rgb: [67, 170, 139] },
  { key: "zoneMedium", rgb: [249, 160, 63] },
  { key: "zoneHigh", rgb: [215, 38, 61] },
];

const card = new ChartCard("heatmap", { rows: csvRows, legend: legendItems });
let data = null;

function columnText() {
  return t(COLUMN[card.control("kind")] === "likelihood" ? "likelihood" : "probabilityAxis");
}

function csvRows(chart) {
  return [[t("impact"), columnText(), t("riskValue"), t("cellCount")],
    ...chart.data.datasets[0].data.map((cell) => [Number(cell.y), Number(cell.x), Number(cell.y) * Number(cell.x), cell.v])];
}

function thresholds() {
  return config.riskThresholds[card.control("kind")] || [4, 20];
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

function showLegend() {
  const box = card.card.querySelector('[data-role="legend"]');
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

function draw() {
  const kind = card.control("kind");
  const state = card.control("state");
  const column = COLUMN[kind];
  const cells = (data && data[state] && data[state][kind]) || [];
  if (!cells.length) return card.empty();
  const columns = data.axes[column].map(String);
  const impacts = data.axes.impact.map(String);
  // a phone scrolls the grid sideways inside its card rather than squeezing the values out
  const box = card.canvas.parentElement;
  box.style.minWidth = window.innerWidth < 640 ? `${60 + columns.length * 30}px` : "";
  const max = Math.max(...cells.map((cell) => cell.value));
  const points = cells.map((cell) => ({ x: String(cell[column]), y: String(cell.impact), v: cell.value }));
  showLegend();
  card.draw({
    type: "matrix",
    data: {
      datasets: [{
        label: t(kind),
        data: points,
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

async function load() {
  await guarded(card, async () => {
    const params = windowParams();
    const body = await getJSON(config.urls.cartography, params);
    card.setSource(config.urls.cartography, params, body);
    data = body.data;
    draw();
  });
  settled();
}

card.onControlChange(draw);
onToolbarChange(load);
onHistory(load);
load();

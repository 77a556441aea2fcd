/* Cartography page: the risk heat map, mean number of risks per impact × likelihood cell
 * (operational risks: impact × probability), drawn with the chartjs-chart-matrix controller. */
import {
  ChartCard, config, formatNumber, getJSON, guarded, onToolbarChange, settled, t, windowParams,
} from "./dashboard.js";

const COLUMN = { informational: "likelihood", operational: "probability" };

const card = new ChartCard("heatmap", { rows: csvRows });
let data = null;

function csvRows(chart) {
  const column = COLUMN[card.control("kind")];
  return [[t("impact"), t(column === "likelihood" ? "likelihood" : "probabilityAxis"), t("value")],
    ...chart.data.datasets[0].data.map((cell) => [cell.y, cell.x, cell.v])];
}

/** White to deep red, by the share of the largest cell. */
function shade(value, max) {
  const share = max > 0 ? Math.min(1, value / max) : 0;
  const mix = (from, to) => Math.round(from + (to - from) * share);
  return `rgb(${mix(253, 180)}, ${mix(237, 30)}, ${mix(222, 45)})`;
}

/* Writes each cell's value in it, so the map reads without hovering. */
const cellValues = {
  id: "cellValues",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const meta = chart.getDatasetMeta(0);
    const max = Math.max(...chart.data.datasets[0].data.map((cell) => cell.v));
    ctx.save();
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = "11px system-ui, sans-serif";
    meta.data.forEach((element, i) => {
      const cell = chart.data.datasets[0].data[i];
      const { x, y, width, height } = element.getProps(["x", "y", "width", "height"], true);
      if (width < 22) return;
      ctx.fillStyle = cell.v / max > 0.55 ? "#ffffff" : "#3b1a12";
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
  const max = Math.max(...cells.map((cell) => cell.value));
  const points = cells.map((cell) => ({ x: String(cell[column]), y: String(cell.impact), v: cell.value }));
  card.draw({
    type: "matrix",
    data: {
      datasets: [{
        label: t(kind),
        data: points,
        backgroundColor: (ctx) => shade(ctx.raw ? ctx.raw.v : 0, max),
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
              `${t(column === "likelihood" ? "likelihood" : "probabilityAxis")}: ${ctx.raw.x}`,
              `${t("risks")}: ${formatNumber(ctx.raw.v)}`,
            ],
          },
        },
      },
      scales: {
        x: {
          type: "category", labels: columns, offset: true, grid: { display: false },
          title: { display: true, text: t(column === "likelihood" ? "likelihood" : "probabilityAxis") },
        },
        y: {
          type: "category", labels: [...impacts].reverse(), offset: true, grid: { display: false },
          title: { display: true, text: t("impact") },
        },
      },
    },
    plugins: [cellValues],
  });
}

async function load() {
  await guarded(card, async () => {
    data = (await getJSON(config.urls.cartography, windowParams())).data;
    draw();
  });
  settled();
}

card.onControlChange(draw);
onToolbarChange(load);
load();

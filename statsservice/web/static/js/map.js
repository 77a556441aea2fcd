/* Map page: clients with coordinates on a vendored world outline (no tile server, works offline),
 * each marker with its top threat and vulnerability. Never a client's name. */
import {
  ChartCard, config, formatNumber, getJSON, guarded, labelOf, onHistory, onToolbarChange, settled, t,
  windowParams,
} from "./dashboard.js";

const ChartGeo = window.ChartGeo;
window.Chart.register(ChartGeo.BubbleMapController, ChartGeo.GeoFeature, ChartGeo.ProjectionScale, ChartGeo.SizeScale);

const MIN_SPAN = { lat: 14, lon: 24 };
const PAD = 4;

const card = new ChartCard("map", { rows: csvRows });
let markers = [];
let countries = null;

function describe(item) {
  return item ? `${labelOf(item.labels)} (${t("maxRisk")} ${formatNumber(item.value, 1)})` : "—";
}

function csvRows() {
  const header = [t("latitude"), t("longitude"), t("topThreat"), t("threatMaxRisk"), t("topVulnerability"), t("vulnerabilityMaxRisk")];
  return [header, ...markers.map((m) => [
    m.latitude, m.longitude,
    m.threat ? labelOf(m.threat.labels) : "", m.threat ? m.threat.value : "",
    m.vulnerability ? labelOf(m.vulnerability.labels) : "", m.vulnerability ? m.vulnerability.value : "",
  ])];
}

/** The box to show: around the markers, padded, never smaller than a region, and as wide as
 * the chart's shape asks (a degree of longitude is cos(latitude) of a degree of latitude). */
function viewBox(points) {
  const lats = points.map((p) => p.latitude);
  const lons = points.map((p) => p.longitude);
  const box = {
    south: Math.min(...lats) - PAD, north: Math.max(...lats) + PAD,
    west: Math.min(...lons) - PAD, east: Math.max(...lons) + PAD,
  };
  const middle = (((box.south + box.north) / 2) * Math.PI) / 180;
  // the chart box may still be hidden (loading): its CSS height and the card's width still hold
  const height = parseFloat(getComputedStyle(card.canvas.parentElement).height) || 400;
  const aspect = card.card.clientWidth / height;
  const spans = {
    lat: Math.max(MIN_SPAN.lat, box.north - box.south),
    lon: Math.max(MIN_SPAN.lon, box.east - box.west),
  };
  spans.lon = Math.max(spans.lon, (spans.lat * aspect) / Math.max(0.2, Math.cos(middle)));
  for (const [low, high, span] of [["south", "north", spans.lat], ["west", "east", spans.lon]]) {
    const missing = span - (box[high] - box[low]);
    if (missing > 0) {
      box[low] -= missing / 2;
      box[high] += missing / 2;
    }
  }
  box.south = Math.max(-80, box.south);
  box.north = Math.min(84, box.north);
  box.west = Math.max(-180, box.west);
  box.east = Math.min(180, box.east);
  return box;
}

const EDGES = [
  ["west", (p, box) => p[0] >= box.west, 0],
  ["east", (p, box) => p[0] <= box.east, 0],
  ["south", (p, box) => p[1] >= box.south, 1],
  ["north", (p, box) => p[1] <= box.north, 1],
];
const STEP = 1; // degrees between points of a clipped edge: d3 draws edges as great-circle arcs

/** Where segment a-b crosses the line ``coordinate[axis] == value``. */
function crossing(a, b, axis, value) {
  const share = (value - a[axis]) / (b[axis] - a[axis]);
  const point = [a[0] + share * (b[0] - a[0]), a[1] + share * (b[1] - a[1])];
  point[axis] = value;
  return point;
}

/** Points every STEP degrees along a ring, so long straight edges stay straight on the map. */
function densify(ring) {
  const out = [];
  ring.forEach((point, i) => {
    if (i > 0) {
      const previous = ring[i - 1];
      const steps = Math.floor(Math.max(Math.abs(point[0] - previous[0]), Math.abs(point[1] - previous[1])) / STEP);
      for (let k = 1; k < steps; k += 1) {
        out.push([previous[0] + ((point[0] - previous[0]) * k) / steps, previous[1] + ((point[1] - previous[1]) * k) / steps]);
      }
    }
    out.push(point);
  });
  return out;
}

/** A closed ring cut to the box (Sutherland–Hodgman), or null when nothing is left. */
function clipRing(ring, box) {
  let points = ring.slice(0, -1);
  for (const [side, inside, axis] of EDGES) {
    const out = [];
    points.forEach((current, i) => {
      const previous = points[(i + points.length - 1) % points.length];
      if (inside(current, box)) {
        if (!inside(previous, box)) out.push(crossing(previous, current, axis, box[side]));
        out.push(current);
      } else if (inside(previous, box)) {
        out.push(crossing(previous, current, axis, box[side]));
      }
    });
    points = out;
    if (points.length < 3) return null;
  }
  return densify([...points, points[0]]);
}

/** The countries cut to the box, so the projection fits the region of the markers. */
function outlineFor(box) {
  const parts = [];
  for (const feature of countries) {
    const geometry = feature.geometry;
    if (!geometry) continue;
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    const kept = [];
    for (const [exterior, ...holes] of polygons) {
      const clipped = clipRing(exterior, box);
      if (clipped) kept.push([clipped, ...holes.map((hole) => clipRing(hole, box)).filter(Boolean)]);
    }
    if (kept.length) parts.push({ ...feature, geometry: { type: "MultiPolygon", coordinates: kept } });
  }
  return [frame(box), ...parts];
}

/** A thin frame along the box: the projection fits the whole box, sea included, not only its land.
 * Rings run clockwise outside and anticlockwise inside, as d3-geo wants. */
function frame(box) {
  const inset = 0.02;
  const ring = (w, n, e, s) => densify([[w, n], [e, n], [e, s], [w, s], [w, n]]);
  const outer = ring(box.west, box.north, box.east, box.south);
  const inner = ring(box.west + inset, box.north - inset, box.east - inset, box.south + inset).reverse();
  return { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [outer, inner] } };
}

function fillTable() {
  const body = document.querySelector("#map-list tbody");
  body.replaceChildren(...markers.map((m) => {
    const row = document.createElement("tr");
    for (const text of [formatNumber(m.latitude, 1), formatNumber(m.longitude, 1), describe(m.threat), describe(m.vulnerability)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  }));
}

function draw() {
  fillTable();
  if (!markers.length) return card.empty(t("noMarkers").replace("%(k)s", config.minOrganisations));
  const box = viewBox(markers);
  card.draw({
    type: "bubbleMap",
    data: {
      labels: markers.map((m) => describe(m.threat)),
      datasets: [{
        label: t("areas"),
        outline: outlineFor(box),
        showOutline: true,
        clipMap: "outline+graticule",
        outlineBackgroundColor: "#f4f1e8",
        outlineBorderColor: "#b5ad9c",
        outlineBorderWidth: 0.6,
        backgroundColor: "rgba(243, 114, 44, 0.75)",
        borderColor: "#b44a12",
        borderWidth: 1.5,
        data: markers.map((m) => ({
          latitude: m.latitude,
          longitude: m.longitude,
          value: m.threat ? m.threat.value : 0,
        })),
      }],
    },
    options: {
      plugins: {
        background: { color: "#dceaf6" },
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: () => "",
            label: (ctx) => {
              const m = markers[ctx.dataIndex];
              return [`${t("topThreat")}: ${describe(m.threat)}`, `${t("topVulnerability")}: ${describe(m.vulnerability)}`];
            },
          },
        },
      },
      scales: {
        projection: { axis: "x", projection: "mercator" },
        size: { axis: "x", size: [6, 18], display: false },
      },
    },
  });
}

async function load() {
  await guarded(card, async () => {
    if (!countries) {
      const world = await getJSON(config.urls.world);
      countries = ChartGeo.topojson.feature(world, world.objects.countries).features;
    }
    const params = windowParams();
    const body = await getJSON(config.urls.map, params);
    card.setSource(config.urls.map, params, { ...body, markers: body.markers.length });
    markers = body.markers;
    draw();
  });
  settled();
}

onToolbarChange(load);
onHistory(load);
load();

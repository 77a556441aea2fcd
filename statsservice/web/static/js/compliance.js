/* Compliance page: per referential, current against target maturity, and category by category for
 * the chosen referential. Values are shares of full maturity, shown in percent. A local hub that
 * pulled the community's series adds the community's current level, computed by the hub over the
 * same window and in the same way as its own. */
import {
  ChartCard, PALETTE, STATE_COLORS, communityHasData, communitySeries, config, formatNumber, getJSON, guarded,
  labelOf, mean, onHistory, onToolbarChange, setNote, settled, t, windowParams, wrapLabel,
} from "./dashboard.js";

let community = null;

/** The community's referential over the window (compliance_averages, computed as the local one). */
function communityReferential(referential) {
  if (!communityHasData(community) || !Array.isArray(community.data)) return null;
  return community.data.find((r) => r.referential === referential) || null;
}

/** The community's mean current level of a category over the window (null: none). */
function communityCategory(referential, category) {
  const ref = communityReferential(referential);
  const cat = ref && ref.categories.find((c) => c.category === category);
  return cat && cat.current !== undefined ? Number(cat.current) : null;
}

function communityDataset(values) {
  return {
    label: `${t("current")} — ${t("community")}`,
    data: values,
    backgroundColor: PALETTE[1],
    borderColor: PALETTE[1],
    pointBackgroundColor: PALETTE[1],
    borderWidth: 2,
    borderRadius: 3,
  };
}

const cards = {
  referentials: new ChartCard("compliance-referentials", { firstColumn: t("referential") }),
  categories: new ChartCard("compliance-categories", { rows: categoryRows }),
};

/** Radar or bars, the CSV is one row per category with its current and target percentages. */
function categoryRows(chart) {
  return [[t("category"), ...chart.data.datasets.map((d) => d.label)],
    ...chart.data.labels.map((label, i) => [
      Array.isArray(label) ? label.join(" ") : label, ...chart.data.datasets.map((d) => d.data[i])])];
}
let referentials = [];

const percent = (value) => Math.round(Number(value) * 1000) / 10;

function dataset(state, values) {
  return {
    label: t(state),
    data: values,
    backgroundColor: state === "target" ? "rgba(67, 170, 139, 0.25)" : "rgba(29, 78, 137, 0.25)",
    borderColor: STATE_COLORS[state],
    pointBackgroundColor: STATE_COLORS[state],
    borderWidth: 2,
  };
}

const tooltip = () => ({ callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatNumber(ctx.raw, 1)} %` } });

/** Each referential as the plain mean of its categories (a summary for display). */
function drawReferentials() {
  if (!referentials.length) return cards.referentials.empty();
  const average = (ref, state) => mean(ref.categories.map((c) => c[state] ?? 0)) ?? 0;
  const datasets = ["current", "target"].map((state) => ({
    ...dataset(state, referentials.map((ref) => percent(average(ref, state)))),
    backgroundColor: STATE_COLORS[state],
    borderRadius: 3,
  }));
  // the same summary of the community's own categories of the referential
  const others = referentials.map((ref) => {
    const theirs = communityReferential(ref.referential);
    return theirs && theirs.categories.length ? average(theirs, "current") : null;
  });
  if (others.some((v) => v !== null)) datasets.push(communityDataset(others.map((v) => (v === null ? null : percent(v)))));
  if (community) setNote("community-note", others.some((v) => v !== null) ? t("communityNote") : t("communityMissing"));
  cards.referentials.draw({
    type: "bar",
    data: {
      labels: referentials.map((ref) => wrapLabel(labelOf(ref.labels), 20)),
      datasets,
    },
    options: {
      plugins: { tooltip: tooltip() },
      scales: {
        y: {
          beginAtZero: true, max: 100, ticks: { callback: (v) => `${v} %` },
          title: { display: true, text: t("compliancePercent") },
        },
      },
    },
  });
}

function fillReferentialSelect() {
  const select = cards.categories.controlElement("referential");
  const previous = select.dataset.wanted || select.value;
  select.replaceChildren(...referentials.map((ref) => new Option(labelOf(ref.labels), ref.referential)));
  if (referentials.some((ref) => ref.referential === previous)) select.value = previous;
  if (!select.dataset.initial && select.options.length) select.dataset.initial = select.options[0].value;
  delete select.dataset.wanted;
}

/** A radar, as in MONARC; on a phone, horizontal bars keep the long category names readable. */
function drawCategories() {
  const ref = referentials.find((r) => r.referential === cards.categories.control("referential"));
  if (!ref || !ref.categories.length) return cards.categories.empty();
  const narrow = window.innerWidth < 640;
  const labels = ref.categories.map((c) => wrapLabel(labelOf(c.labels), narrow ? 16 : 22));
  const datasets = ["current", "target"].map((state) => ({
    ...dataset(state, ref.categories.map((c) => percent(c[state] ?? 0))),
    ...(narrow ? { backgroundColor: STATE_COLORS[state], borderRadius: 3 } : {}),
  }));
  const others = ref.categories.map((c) => communityCategory(ref.referential, c.category));
  if (others.some((v) => v !== null)) {
    datasets.push({
      ...communityDataset(others.map((v) => (v === null ? null : percent(v)))),
      ...(narrow ? {} : { backgroundColor: "rgba(243, 114, 44, 0.15)" }),
    });
  }
  const scale = { beginAtZero: true, max: 100 };
  cards.categories.draw(narrow
    ? {
      type: "bar",
      data: { labels, datasets },
      options: {
        indexAxis: "y",
        plugins: { tooltip: tooltip() },
        scales: { x: { ...scale, title: { display: true, text: t("compliancePercent") } }, y: { ticks: { font: { size: 10 } } } },
      },
    }
    : {
      type: "radar",
      data: { labels, datasets },
      options: {
        plugins: { tooltip: tooltip() },
        scales: { r: { ...scale, ticks: { stepSize: 25, backdropColor: "transparent", callback: (v) => `${v} %` }, pointLabels: { font: { size: 10 } } } },
      },
    });
}

async function load() {
  await guarded(cards.referentials, async () => {
    cards.categories.loading();
    const params = windowParams();
    const body = await getJSON(config.urls.compliance, params);
    cards.referentials.setSource(config.urls.compliance, params, body);
    cards.categories.setSource(config.urls.compliance, params, body);
    referentials = body.data;
    community = await communitySeries("compliance_averages", body);
    fillReferentialSelect();
    drawReferentials();
    drawCategories();
  });
  if (cards.referentials.card.dataset.state === "error") cards.categories.failed(new Error(""));
  settled();
}

cards.categories.onControlChange(drawCategories);
onToolbarChange(load);
onHistory(() => {
  const select = cards.categories.controlElement("referential");
  const wanted = new URLSearchParams(window.location.search).get("compliance-categories-referential");
  select.dataset.wanted = wanted || select.dataset.initial || "";
  load();
});
load();

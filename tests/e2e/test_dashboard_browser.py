"""The dashboard in a real browser: a live hub (gunicorn on 127.0.0.1, its own SQLite database
migrated with ``flask db upgrade``, demo data from ``flask stats_demo``) opened in headless Debian
Chromium. Every page must draw its charts from real data, react to its selectors, export PNG and
CSV, log no console error and make no request outside 127.0.0.1. Screenshots go to
``test-artifacts/dashboard/``."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

import pytest
import requests

from tests.approx import assert_close
from tests.e2e.browser import chromium, screenshot
from tests.e2e.conftest import DEMO_DAYS
from tests.live import LiveHub

CHARTS_JS = """
() => Object.values(Chart.instances).map((chart) => ({
  id: chart.canvas.id,
  type: chart.config.type,
  labels: (chart.data.labels || []).length,
  datasets: chart.data.datasets.map((dataset, i) => ({
    label: dataset.label,
    values: dataset.data.filter((v) => v !== null && v !== undefined).length,
    drawn: chart.getDatasetMeta(i).data.filter(
      (el) => !el.skip && Number.isFinite(el.x) && Number.isFinite(el.y)).length,
    data: JSON.stringify(dataset.data),
  })),
  labelText: JSON.stringify(chart.data.labels || []),
}))
"""


@dataclass(frozen=True)
class PageSpec:
    name: str
    path: str
    #: chart card id -> its own selectors
    cards: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: page-wide selectors (they refetch the data)
    toolbar: tuple[str, ...] = ()


PAGES = [
    PageSpec(
        "current",
        "/",
        {"top-threats": ("metric",), "top-vulnerabilities": ("metric",), "risk-levels": ("kind",)},
        ("window",),
    ),
    PageSpec(
        "evolution",
        "/evolution",
        {
            "risk-evolution": ("kind", "state"),
            "threat-evolution": ("metric",),
            "vulnerability-evolution": ("metric",),
        },
        ("period", "window"),
    ),
    PageSpec("cartography", "/cartography", {"heatmap": ("kind", "state")}, ("window",)),
    PageSpec(
        "compliance",
        "/compliance",
        {"compliance-referentials": (), "compliance-categories": ("referential",)},
        ("window",),
    ),
    PageSpec("map", "/map", {"map": ()}, ("window",)),
    PageSpec("about", "/about"),
]


@pytest.fixture(scope="module")
def browser(playwright):
    with chromium(playwright) as instance:
        yield instance


@pytest.fixture
def page(browser):
    browser.console_errors.clear()
    browser.outside_requests.clear()
    page = browser.new_page()
    yield page
    page.close()


def open_page(page, url: str) -> None:
    page.goto(url)
    if page.locator("script[type=module]").count():
        page.wait_for_function("() => Number(document.body.dataset.ready || 0) >= 1")


def charts(page) -> dict[str, dict]:
    """Chart.js instances of the page by canvas id, with what they hold and what they drew."""
    return {chart["id"]: chart for chart in page.evaluate(CHARTS_JS)}


def chart_of(page, card: str) -> dict:
    return charts(page)[f"chart-{card}"]


def card_version(page, card: str) -> int:
    return int(page.get_attribute(f"#card-{card}", "data-version") or 0)


def change_select(page, selector: str) -> str:
    """Pick another option of a <select>; return the value chosen."""
    current = page.eval_on_selector(selector, "el => el.value")
    options = page.eval_on_selector_all(f"{selector} option", "els => els.map(e => e.value)")
    others = [value for value in options if value != current]
    assert others, f"{selector} offers a single option: {options}"
    page.select_option(selector, others[0])
    return others[0]


def assert_drawn(chart: dict) -> None:
    assert chart["datasets"], chart["id"]
    assert any(d["drawn"] > 0 for d in chart["datasets"]), f"{chart['id']} drew no data point: {chart}"
    for dataset in chart["datasets"]:
        assert dataset["values"] > 0, f"{chart['id']}: dataset {dataset['label']!r} is empty"


@pytest.mark.parametrize("spec", PAGES, ids=[p.name for p in PAGES])
def test_page_draws_its_charts(demo_hub, browser, page, spec):
    open_page(page, demo_hub.url + spec.path)
    drawn = charts(page) if spec.cards else {}
    for card in spec.cards:
        assert page.get_attribute(f"#card-{card}", "data-state") == "ready", card
        assert_drawn(drawn[f"chart-{card}"])
    assert len(drawn) == len(spec.cards)
    assert "Demo client" not in page.content(), "a client's name is on a public page"
    screenshot(page, spec.name)
    assert browser.problems == []


@pytest.mark.parametrize("spec", [p for p in PAGES if p.cards], ids=[p.name for p in PAGES if p.cards])
def test_selectors_change_the_charts(demo_hub, browser, page, spec):
    open_page(page, demo_hub.url + spec.path)
    for card, controls in spec.cards.items():
        for control in controls:
            before = chart_of(page, card)
            version = card_version(page, card)
            change_select(page, f"#card-{card} [data-control={control}]")
            page.wait_for_function(
                f"() => Number(document.getElementById('card-{card}').dataset.version) > {version}"
            )
            after = chart_of(page, card)
            assert_drawn(after)
            assert (before["labelText"], [d["data"] for d in before["datasets"]]) != (
                after["labelText"],
                [d["data"] for d in after["datasets"]],
            ), f"{card}: changing {control} did not change the chart"
    for control in spec.toolbar:
        before = charts(page)
        ready = int(page.evaluate("() => document.body.dataset.ready"))
        change_select(page, f"#toolbar [data-control={control}]")
        page.wait_for_function(f"() => Number(document.body.dataset.ready) > {ready}")
        after = charts(page)
        for card in spec.cards:
            assert page.get_attribute(f"#card-{card}", "data-state") == "ready", (control, card)
            assert_drawn(after[f"chart-{card}"])
        assert before != after, f"changing {control} did not change any chart"
    assert browser.problems == []


@pytest.mark.parametrize("spec", [p for p in PAGES if p.cards], ids=[p.name for p in PAGES if p.cards])
def test_every_chart_exports_png_and_csv(demo_hub, browser, page, spec):
    open_page(page, demo_hub.url + spec.path)
    for card in spec.cards:
        with page.expect_download() as download:
            page.click(f"#card-{card} [data-export=png]")
        assert download.value.suggested_filename == f"{card}.png"
        assert download.value.path().read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

        with page.expect_download() as download:
            page.click(f"#card-{card} [data-export=csv]")
        assert download.value.suggested_filename == f"{card}.csv"
        rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
        chart = chart_of(page, card)
        blank = rows.index([])  # metadata rows (title, hub, window, date...) come first
        assert rows[0] == [page.text_content(f"#card-{card} h2").strip()]
        header, body = rows[blank + 1], rows[blank + 2 :]
        assert len(header) >= 2 and all(header), header
        assert body, f"{card}: the CSV has no data row"
        assert all(len(row) == len(header) for row in body)
        if chart["type"] in ("bar", "line"):  # one row per category, one column per dataset
            assert len(body) == chart["labels"]
            assert header[1:] == [d["label"] for d in chart["datasets"]]
    assert browser.problems == []


def test_json_behind_the_current_page_matches_its_chart(demo_hub, page):
    """The top-threats chart shows the public JSON's ten highest averages, in order."""
    open_page(page, demo_hub.url + "/")
    window = page.input_value("#toolbar [data-control=window]")
    data = requests.get(f"{demo_hub.url}/stats/threats.json", params={"days": window}, timeout=30).json()
    expected = sorted((float(item["averages"]["averageRate"]) for item in data["data"]), reverse=True)[:10]
    shown = json.loads(chart_of(page, "top-threats")["datasets"][0]["data"])
    assert shown == pytest.approx(expected)


def test_about_page_shows_the_counts(demo_hub, page):
    open_page(page, demo_hub.url + "/about")
    about = requests.get(f"{demo_hub.url}/about.json", timeout=30).json()
    assert page.text_content("[data-fact=records]").strip() == str(about["counts"]["records"])
    # the demo's 6 analyses, rounded down to a multiple of 5 as every public count
    assert page.text_content("[data-fact=analyses]").strip() == str(about["counts"]["analyses"]) == "5"
    assert page.text_content("[data-fact=version]").strip() == about["version"]


def test_french_browser_gets_french_pages(demo_hub, playwright):
    with chromium(playwright, locale="fr-FR") as browser:
        page = browser.new_page()
        open_page(page, demo_hub.url + "/evolution")
        assert page.get_attribute("html", "lang") == "fr"
        assert page.text_content("nav a[aria-current=page]").strip() == "Évolution"
        chart = chart_of(page, "risk-evolution")
        assert_drawn(chart)
        assert any("Risques faibles" in d["label"] for d in chart["datasets"])
        screenshot(page, "evolution-fr")
        assert browser.problems == []


def test_pages_fit_a_phone(demo_hub, playwright):
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    with chromium(playwright, **phone) as browser:
        for spec in PAGES:
            page = browser.new_page()
            open_page(page, demo_hub.url + spec.path)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{spec.name} scrolls sideways on a phone by {overflow}px"
            for card in spec.cards:
                assert_drawn(chart_of(page, card))
            screenshot(page, f"{spec.name}-phone")
            page.close()
        assert browser.problems == []


@pytest.fixture(scope="module")
def empty_hub(tmp_path_factory):
    hub = LiveHub(tmp_path_factory.mktemp("empty-hub")).start()
    try:
        yield hub
    finally:
        hub.stop()


def test_empty_hub_shows_helpful_empty_states(empty_hub, playwright):
    with chromium(playwright) as browser:
        for spec in PAGES:
            page = browser.new_page()
            response = page.goto(empty_hub.url + spec.path)
            assert response.status == 200, spec.path
            if spec.cards:
                text = page.text_content("#empty-state")
                assert "About" in text and "stats_demo" not in text, spec.name
                assert page.locator("canvas").count() == 0
            else:
                assert page.text_content("[data-fact=records]").strip() == "0"
            screenshot(page, f"{spec.name}-empty")
            page.close()
        assert browser.problems == []


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    """A global hub with its own demo data, and a local hub that pulled its community series."""
    root = tmp_path_factory.mktemp("federation")
    world = LiveHub(root / "global", config={"MODE": "global"}).start()
    local = None
    try:
        # ten analyses of five organisations: enough for compliance cells to pass k = 3
        world.flask("stats_demo", "--analyses", "10", "--days", str(DEMO_DAYS), "--seed", "2")
        _uuid, token = world.create_client("local hub")
        local = LiveHub(
            root / "local",
            config={"REMOTE_STATS_SERVER": world.url, "REMOTE_STATS_TOKEN": token},
        ).start()
        local.flask("stats_demo", "--analyses", "10", "--days", str(DEMO_DAYS))
        pulled = local.flask("stats_pull").stdout
        assert "pulled" in pulled, pulled
        yield world, local
    finally:
        if local:
            local.stop()
        world.stop()


def community_datasets(chart: dict) -> list[dict]:
    return [d for d in chart["datasets"] if d["label"].endswith("— community")]


def test_local_hub_overlays_the_community(federation, browser, page):
    _world, local = federation
    about = requests.get(f"{local.url}/about.json", timeout=30).json()
    assert "risk_averages_on_date" in about["community_series"]

    open_page(page, local.url + "/")
    risks = chart_of(page, "risk-levels")
    assert [d["label"] for d in community_datasets(risks)] == ["Current — community", "Residual — community"]
    assert all(d["drawn"] == 3 for d in risks["datasets"])
    assert community_datasets(chart_of(page, "top-threats"))
    screenshot(page, "current-with-community")

    open_page(page, local.url + "/evolution")
    # the community is pulled by day: every period is rebuilt from its days, the default week too
    for period in ("week", "day", "month", "year"):
        if period != "week":
            ready = int(page.evaluate("() => document.body.dataset.ready"))
            page.select_option("#toolbar [data-control=period]", period)
            page.wait_for_function(f"() => Number(document.body.dataset.ready) > {ready}")
        assert "same window and period" in page.text_content("#community-note"), period
        for card in ("risk-evolution", "threat-evolution", "vulnerability-evolution"):
            chart = chart_of(page, card)
            assert_drawn(chart)
            overlay = community_datasets(chart)
            assert overlay and all(d["drawn"] > 0 for d in overlay), (period, card)
        if period == "week":
            screenshot(page, "evolution-with-community")

    open_page(page, local.url + "/cartography")
    assert page.get_attribute("#card-heatmap-community", "data-state") == "ready"
    ours, theirs = chart_of(page, "heatmap"), chart_of(page, "heatmap-community")
    assert_drawn(ours)
    assert_drawn(theirs)
    assert "same window and period" in page.text_content("#community-note")
    context = page.text_content("#card-heatmap-community [data-role=context]")
    assert "analyses" in context and re.search(r"\d{4}-\d{2}-\d{2}", context), context
    # the community card's cells carry this hub's value: its tooltip and CSV give the difference
    cells = json.loads(theirs["datasets"][0]["data"])
    assert cells and all("ours" in cell for cell in cells)
    screenshot(page, "cartography-with-community")
    open_page(page, local.url + "/cartography?window=custom&from=2020-01-01&to=2020-01-31")
    assert "no data for this window" in page.text_content("#community-note")
    assert page.get_attribute("#card-heatmap-community", "data-state") == "empty"

    open_page(page, local.url + "/compliance")
    for card in ("compliance-referentials", "compliance-categories"):
        chart = chart_of(page, card)
        overlay = community_datasets(chart)
        assert overlay and overlay[0]["drawn"] > 0, card
    assert "same window and period" in page.text_content("#community-note")
    assert browser.problems == []


def test_the_community_beside_a_chart_is_the_global_hubs_own_figure(federation):
    """Like for like: what the local hub shows as the community for a window and period is what
    the global hub's own dashboard shows for them (same released data, same computation)."""
    world, local = federation
    for route, processor, period in (
        ("threats", "threat_average_on_date", "day"),
        ("risks", "risk_averages", "day"),
        ("risks", "risk_averages_on_date", "week"),
        ("compliance", "compliance_averages", "day"),
        ("cartography", "cartography_heatmap", "day"),
    ):
        theirs = requests.get(
            f"{world.url}/stats/{route}.json",
            params={"days": 30, "processor": processor, "period": period},
            timeout=60,
        ).json()
        shown = requests.get(
            f"{local.url}/stats/community.json",
            params={
                "processor": processor,
                "date_from": theirs["date_from"],
                "date_to": theirs["date_to"],
                "period": period,
            },
            timeout=60,
        ).json()
        assert theirs["data"] and shown["days"] > 0, processor
        assert_close(theirs["data"], shown["data"])


def test_global_hub_speaks_of_the_community(federation, browser, page):
    world, _local = federation
    open_page(page, world.url + "/")
    assert page.text_content("h1").strip() == "Community risk landscape"
    chart = chart_of(page, "risk-levels")
    assert_drawn(chart)
    assert all(d["label"].endswith("— community") for d in chart["datasets"])
    open_page(page, world.url + "/about")
    assert "community" in page.text_content("[data-fact=mode]")
    assert browser.problems == []

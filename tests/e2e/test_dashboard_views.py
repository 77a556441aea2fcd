"""The dashboard as a reader uses it (issue 14): every chart says what it stands on (organisations,
analyses, period), in English and French, on a wide screen and a phone; a view lives in its URL
(reload, a new browser, back/forward); a bar opens its evolution; a missing page is an HTML page;
PNG and CSV exports carry the title, window and date.

One demo hub for the session (tests/e2e/conftest.py). Dates come from the hub (its "today" in the
page's configuration), never from the machine running the tests. Screenshots of every page (English, desktop) go to
``test-artifacts/dashboard/``."""

from __future__ import annotations

import base64
import csv
import io
import re
import struct
from datetime import date, timedelta

import pytest

from tests.e2e.browser import ARTIFACTS, chromium, screenshot
from tests.e2e.conftest import DEMO_ANALYSES

PAGES = {
    "current": ("/", ("top-threats", "top-vulnerabilities", "risk-levels")),
    "evolution": ("/evolution", ("risk-evolution", "threat-evolution", "vulnerability-evolution")),
    "cartography": ("/cartography", ("heatmap",)),
    "compliance": ("/compliance", ("compliance-referentials", "compliance-categories")),
    "map": ("/map", ("map",)),
    "about": ("/about", ()),
}
WORDS = {
    "en": {"analyses": "analyses", "organisation": "organisation", "heading": "Current risk landscape"},
    "fr": {"analyses": "analyses", "organisation": "organisation", "heading": "Paysage actuel des risques"},
}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: the demo's analyses as every public count shows them: rounded down to a multiple of 5
SHOWN_ANALYSES = DEMO_ANALYSES - DEMO_ANALYSES % 5


def open_page(page, url: str) -> None:
    page.goto(url)
    if page.locator("script[type=module]").count():
        page.wait_for_function("() => Number(document.body.dataset.ready || 0) >= 1")


def hub_config(page) -> dict:
    return page.evaluate("() => JSON.parse(document.getElementById('dashboard-config').textContent)")


def chart_data(page, card: str) -> str:
    """What a chart holds (labels and values), to compare two openings of one view."""
    return page.evaluate(
        """(id) => { const c = Object.values(Chart.instances).find((c) => c.canvas.id === id);
        return JSON.stringify([c.data.labels, c.data.datasets.map((d) => [d.label, d.data])]); }""",
        f"chart-{card}",
    )


def wait_redrawn(page, ready: int) -> None:
    page.wait_for_function(f"() => Number(document.body.dataset.ready) > {ready}")


def ready_count(page) -> int:
    return int(page.evaluate("() => document.body.dataset.ready || 0"))


#: "1 area on the map", "2 areas on the map"; French puts 0 and 1 in the singular
AREAS = {"en": ("area on the map", "areas on the map"), "fr": ("zone sur la carte", "zones sur la carte")}
ORGANISATIONS = {"en": ("organisation", "organisations"), "fr": ("organisation", "organisations")}


def assert_counted(context: str, lang: str) -> None:
    """The map's context names its areas and organisations, each in the right number."""
    for one, many in (AREAS[lang], ORGANISATIONS[lang]):
        found = re.search(rf"(\d+) ({re.escape(many)}|{re.escape(one)})\b", context)
        assert found, (context, one)
        count, word = int(found.group(1)), found.group(2)
        single = count < 2 if lang == "fr" else count == 1
        assert word == (one if single else many), context


@pytest.mark.parametrize(
    ("width", "lang"), [(1400, "en"), (1400, "fr"), (390, "en"), (390, "fr")], ids=lambda v: str(v)
)
def test_every_chart_names_its_organisations_analyses_and_period(demo_hub, playwright, width, lang):
    """``?lang=`` picks the language whatever the browser says; each chart's context line counts
    the demo's analyses and names its dates; a phone never scrolls sideways; no console error."""
    size = {"viewport": {"width": width, "height": 900}}
    if width < 640:
        size.update(is_mobile=True, has_touch=True)
    with chromium(playwright, **size) as browser:  # an English browser: ?lang=fr must win
        page = browser.new_page()
        for name, (path, cards) in PAGES.items():
            open_page(page, f"{demo_hub.url}{path}?lang={lang}")
            assert page.get_attribute("html", "lang") == lang, name
            for card in cards:
                assert page.get_attribute(f"#card-{card}", "data-state") == "ready", (name, card)
                context = page.text_content(f"#card-{card} [data-role=context]")
                if card == "map":  # the map counts areas, and the organisations in them
                    assert_counted(context, lang)
                    assert DAY.search(context), context
                    continue
                assert f"{SHOWN_ANALYSES} {WORDS[lang]['analyses']}" in context, (card, context)
                assert WORDS[lang]["organisation"] in context and DAY.search(context), (card, context)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
            links = page.eval_on_selector_all(
                "nav ul a[href^='/']", "els => els.map((a) => a.getAttribute('href'))"
            )
            assert all(f"lang={lang}" in link for link in links), links
            if width > 640 and lang == "en":
                screenshot(page, f"page-{name}")
            elif width < 640 and lang == "fr":
                screenshot(page, f"page-{name}-fr-phone")
        if lang == "fr":
            open_page(page, f"{demo_hub.url}/?lang=fr")
            assert page.text_content("h1").strip() == WORDS["fr"]["heading"]
        assert browser.problems == []


def test_a_view_survives_reload_a_new_browser_and_back(demo_hub, playwright):
    with chromium(playwright, viewport={"width": 1400, "height": 900}) as browser:
        page = browser.new_page()
        open_page(page, demo_hub.url + "/evolution")
        today = hub_config(page)["today"]
        default_view = chart_data(page, "risk-evolution")
        for control, value in (("period", "month"), ("window", "custom")):
            ready = ready_count(page)
            page.select_option(f"#toolbar [data-control={control}]", value)
            wait_redrawn(page, ready)
        ready = ready_count(page)
        start = (date.fromisoformat(today) - timedelta(days=45)).isoformat()  # from the hub's today
        page.fill("#toolbar [data-control=from]", start)
        page.fill("#toolbar [data-control=to]", today)
        page.dispatch_event("#toolbar [data-control=to]", "change")
        wait_redrawn(page, ready)
        page.select_option("#card-risk-evolution [data-control=kind]", "operational")
        page.select_option("#card-threat-evolution [data-control=metric]", "count")
        url = page.url
        for part in ("period=month", "window=custom", f"to={today}", "risk-evolution-kind=operational"):
            assert part in url, url
        menu = page.get_attribute("nav ul a[href^='/cartography']", "href")
        assert "window=custom" in menu and f"to={today}" in menu, "the menu keeps the window"
        view = {card: chart_data(page, card) for card in ("risk-evolution", "threat-evolution")}
        assert view["risk-evolution"] != default_view

        page.reload()
        page.wait_for_function("() => Number(document.body.dataset.ready || 0) >= 1")
        assert {card: chart_data(page, card) for card in view} == view
        assert page.input_value("#toolbar [data-control=from]") == start

        with chromium(playwright, viewport={"width": 1400, "height": 900}) as other:
            fresh = other.new_page()
            open_page(fresh, url)
            assert {card: chart_data(fresh, card) for card in view} == view
            assert other.problems == []

        ready = ready_count(page)
        page.go_back()  # back to the view before the reload's last change: the metric
        page.wait_for_function(f"() => Number(document.body.dataset.ready) > {ready}")
        assert page.input_value("#card-threat-evolution [data-control=metric]") == "averageRate"
        assert page.input_value("#card-risk-evolution [data-control=kind]") == "operational"
        assert browser.problems == []


def test_a_threat_on_current_opens_its_evolution(demo_hub, playwright):
    with chromium(playwright, viewport={"width": 1400, "height": 900}) as browser:
        page = browser.new_page()
        open_page(page, demo_hub.url + "/?lang=fr")
        tiles = page.text_content("#kpis")
        assert str(SHOWN_ANALYSES) in tiles and "Risques élevés par analyse" in tiles
        ready = ready_count(page)
        page.select_option("#toolbar [data-control=window]", "latest")
        wait_redrawn(page, ready)
        newest = page.text_content("#card-risk-levels [data-role=context]")
        assert re.search(r"au \d{4}-\d{2}-\d{2}$", newest), newest  # "as of" the newest snapshots
        label, x, y = page.evaluate(
            """() => { const c = Object.values(Chart.instances).find((c) => c.canvas.id === 'chart-top-threats');
            const bar = c.getDatasetMeta(0).data[2]; const box = c.canvas.getBoundingClientRect();
            return [[].concat(c.data.labels[2]).join(' '), box.left + (bar.x + bar.base) / 2, box.top + bar.y]; }"""
        )
        with page.expect_navigation():
            page.mouse.click(x, y)
        page.wait_for_function("() => Number(document.body.dataset.ready || 0) >= 1")
        assert "/evolution?" in page.url and "threat=" in page.url and "lang=fr" in page.url
        first = page.evaluate(
            "() => Object.values(Chart.instances).find((c) => c.canvas.id === 'chart-threat-evolution').data.datasets[0].label"
        )
        assert first == label
        assert browser.problems == []


def test_a_missing_page_is_an_html_page(demo_hub, playwright):
    with chromium(playwright) as browser:
        page = browser.new_page()
        response = page.goto(demo_hub.url + "/no-such-page?lang=fr")
        assert response.status == 404 and response.headers["content-type"].startswith("text/html")
        assert page.text_content("h1").strip() == "Page introuvable"
        assert page.locator("nav a[href='/about?lang=fr']").count() == 1
        # the browser itself reports the 404 of the document; nothing else may go wrong
        assert [p for p in browser.problems if "404" not in p] == []


PIXELS_JS = """async ([b64, top, bottom]) => {
  const image = new Image();
  image.src = `data:image/png;base64,${b64}`;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const pixels = ctx.getImageData(0, top, image.width, bottom - top).data;
  let ink = 0;
  for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 200 && pixels[i + 1] < 200) ink += 1;
  return ink;
}"""


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_exports_carry_title_window_and_date(demo_hub, playwright, lang):
    with chromium(playwright, viewport={"width": 1400, "height": 900}) as browser:
        page = browser.new_page()
        open_page(page, f"{demo_hub.url}/?lang={lang}")
        config = hub_config(page)
        canvas = page.evaluate(
            "() => { const c = document.getElementById('chart-top-threats'); return [c.width, c.height]; }"
        )
        with page.expect_download() as download:
            page.click("#card-top-threats [data-export=png]")
        png = download.value.path().read_bytes()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"export-top-threats-{lang}.png").write_bytes(png)  # for a reviewer to look at
        width, height = png_size(png)
        assert width >= canvas[0] and height > canvas[1], ((width, height), canvas)
        header = height - canvas[1]
        # the title, window and legend are drawn above the chart: dark pixels in that band
        ink = page.evaluate(PIXELS_JS, [base64.b64encode(png).decode(), 0, header // 2])
        assert ink > 200, ink

        with page.expect_download() as download:
            page.click("#card-top-threats [data-export=csv]")
        raw = download.value.path().read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
        separator = ";" if lang == "fr" else ","
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=separator))
        title = page.text_content("#card-top-threats h2").strip()
        meta = {row[0]: row[1] for row in rows[1:8] if len(row) == 2}
        assert rows[0] == [title]
        hub_word, window_word, generated = {
            "en": ("Hub", "Window", "Generated on"),
            "fr": ("Hub", "Plage", "Généré le"),
        }[lang]
        assert meta[hub_word] == config["hub"] and meta[generated] == config["today"]
        assert DAY.search(meta[window_word]), meta
        blank = rows.index([])
        header, body = rows[blank + 1], rows[blank + 2 :]
        assert header[0] == {"en": "Threat", "fr": "Menace"}[lang]
        assert body and all(len(row) == len(header) for row in body)
        value = body[0][1]
        assert ("," in value or value.isdigit()) if lang == "fr" else "," not in value, value
        data_link = page.get_attribute("#card-top-threats [data-role=data-link]", "href")
        assert data_link.startswith("/stats/threats.json?")
        assert browser.problems == []


def test_evolution_labels_periods_and_cartography_puts_high_impact_on_top(demo_hub, playwright):
    with chromium(playwright, viewport={"width": 1400, "height": 900}) as browser:
        page = browser.new_page()
        open_page(page, demo_hub.url + "/evolution")
        expected = {
            "week": r"^\d{4}-W\d{2}$",
            "quarter": r"^\d{4}-Q[1-4]$",
            "year": r"^\d{4}$",
            "day": DAY.pattern,
        }
        for period, pattern in expected.items():
            if period != "week":
                ready = ready_count(page)
                page.select_option("#toolbar [data-control=period]", period)
                wait_redrawn(page, ready)
            chart = page.evaluate(
                """() => { const c = Object.values(Chart.instances).find((c) => c.canvas.id === 'chart-risk-evolution');
                return {type: c.config.type, labels: c.data.labels}; }"""
            )
            assert chart["labels"] and all(re.match(pattern, label) for label in chart["labels"]), chart
            assert chart["type"] == ("bar" if period == "year" else "line"), period
        lines = page.evaluate(
            "() => Object.values(Chart.instances).find((c) => c.canvas.id === 'chart-threat-evolution').data.datasets.length"
        )
        assert lines == 3, "by day, only the top three threats are drawn"

        open_page(page, demo_hub.url + "/cartography")
        top, bottom = page.evaluate(
            """() => { const c = Object.values(Chart.instances).find((c) => c.canvas.id === 'chart-heatmap');
            const labels = c.scales.y.getLabels(); const max = labels.reduce((a, b) => Number(a) > Number(b) ? a : b);
            const min = labels.reduce((a, b) => Number(a) < Number(b) ? a : b);
            return [c.scales.y.getPixelForValue(labels.indexOf(max)), c.scales.y.getPixelForValue(labels.indexOf(min))]; }"""
        )
        assert top < bottom, "the highest impact is drawn at the top"
        legend = page.text_content("#card-heatmap [data-role=legend]")
        assert "Low risk zone" in legend and "High risk zone" in legend
        assert browser.problems == []

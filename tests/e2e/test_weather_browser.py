"""The weather page in headless Chromium: a live hub with demo data (weather mode) and the
weather computed by ``flask stats_weather``; in English and French, at desktop and phone widths,
the page draws its forecast charts with no console error and no request off the machine."""

from __future__ import annotations

import pytest

from tests.e2e.browser import chromium, screenshot
from tests.live import LiveHub

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

DRAWN_JS = """
() => Object.values(Chart.instances).map((chart) => ({
  id: chart.canvas.id,
  visible: chart.canvas.offsetParent !== null,
  points: chart.getDatasetMeta(4).data.filter((el) => Number.isFinite(el.y)).length,
  forecast: chart.getDatasetMeta(5).data.filter((el) => Number.isFinite(el.y)).length,
}))
"""


@pytest.fixture(scope="module")
def weather_hub(tmp_path_factory):
    hub = LiveHub(tmp_path_factory.mktemp("weather-hub")).start()
    try:
        hub.flask("stats_demo", "--analyses", "10", "--days", "140")
        hub.flask("stats_weather", "--top", "1")
        yield hub
    finally:
        hub.stop()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_weather_page_draws_without_console_errors(playwright, weather_hub, lang, width):
    with chromium(playwright, viewport=WIDTHS[width], locale="fr-FR" if lang == "fr" else "en-US") as browser:
        page = browser.new_page()
        page.goto(f"{weather_hub.url}/weather?lang={lang}")
        page.wait_for_function("() => Number(document.body.dataset.ready || 0) >= 1")
        charts = page.evaluate(DRAWN_JS)
        visible = [chart for chart in charts if chart["visible"]]
        assert visible, charts
        assert all(chart["points"] >= 12 and chart["forecast"] >= 4 for chart in visible), visible
        assert page.locator("#weather-warnings li").count() >= 1
        # a warning's link opens its series' group with that chart drawn
        link = page.locator("#weather-warnings li a").first
        target = link.get_attribute("href").split("#", 1)[1]
        link.click()
        page.wait_for_function(f"() => !document.getElementById('{target}').hidden")
        assert page.locator(f"#{target} canvas").is_visible()
        # another group of series from the selector
        page.select_option('#toolbar [data-control="group"]', "compliance")
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-group=compliance]')].every((c) => !c.hidden)"
        )
        assert "group=compliance" in page.url
        screenshot(page, f"weather-{lang}-{width}")
        assert browser.problems == [], browser.problems
        page.close()

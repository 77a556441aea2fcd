"""Dashboard pages through the Flask test client: they render with and without data, in English
and French, say "community" on a global hub, and hold nothing a 'self'-only CSP would block."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from statsservice.cli.demo import fill
from statsservice.extensions import db
from statsservice.storage.federation import replace_community_series
from statsservice.version import __version__
from tests.api_support import release

PAGES = ["/", "/evolution", "/cartography", "/compliance", "/map", "/about"]
CHART_PAGES = PAGES[:-1]


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of script elements."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def find(self, tag: str, **attrs: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def page_config(html: str) -> dict:
    scripts = Tags(html).scripts
    (text,) = [text for attrs, text in scripts if attrs.get("id") == "dashboard-config"]
    return json.loads(text)


@pytest.fixture
def demo_data(app):
    fill(analyses=10, days=3)  # five organisations: every type has released cells
    release()


@pytest.mark.parametrize("path", CHART_PAGES)
def test_empty_hub_pages_show_how_to_get_data(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    tags = Tags(html)
    assert tags.find("section", id="empty-state"), path
    assert "/api/v1/" in html and "/about" in html
    # operator commands belong to the About page's operator section, not to every visitor
    assert "stats_demo" not in html and "flask " not in html
    assert not tags.find("canvas")
    assert not [a for a, _ in tags.scripts if a.get("src")], "no chart script without data"


def test_empty_about_page_and_json(client):
    html = client.get("/about").get_data(as_text=True)
    assert __version__ in html
    (operator,) = [part for part in html.split("<section") if 'id="about-operator"' in part]
    assert "flask --app statsservice stats_demo" in operator and "client_coordinates_set" in operator
    about = client.get("/about.json").get_json()
    assert about["counts"] == {"clients": 0, "organisations": 0, "analyses": 0, "records": 0, "by_type": {}}
    assert about["first_date"] is None and about["version"] == __version__


@pytest.mark.parametrize("path", CHART_PAGES)
def test_pages_with_data_have_chart_cards_and_scripts(client, demo_data, path):
    response = client.get(path)
    assert response.status_code == 200
    tags = Tags(response.get_data(as_text=True))
    cards = [a for t, a in tags.tags if t == "section" and "data-chart" in a]
    assert cards, path
    for card in cards:
        assert tags.find("canvas", id=f"chart-{card['data-chart']}")
        assert tags.find("button", **{"data-export": "png"}) and tags.find("button", **{"data-export": "csv"})
    sources = [a["src"] for a, _ in tags.scripts if a.get("src")]
    assert any(src.endswith("vendor/chartjs/chart.umd.min.js") for src in sources)
    assert any(a.get("type") == "module" for a, _ in tags.scripts)


@pytest.mark.parametrize("path", PAGES)
def test_nothing_a_self_only_csp_would_block(client, demo_data, path):
    response = client.get(path)
    tags = Tags(response.get_data(as_text=True))
    for attrs, text in tags.scripts:
        assert attrs.get("src") or attrs.get("type") == "application/json", f"inline script on {path}"
        if attrs.get("src"):
            assert not text.strip()
    for tag, attrs in tags.tags:
        assert "style" not in attrs, f"inline style on <{tag}> of {path}"
        assert not [name for name in attrs if name.startswith("on")], f"inline handler on <{tag}> of {path}"
        assert tag != "style", f"<style> element on {path}"
    # every asset the page loads is served by the hub itself
    assets = [a["src"] for a, _ in tags.scripts if a.get("src")]
    assets += [a["href"] for t, a in tags.tags if t == "link"]
    assets += [a["src"] for t, a in tags.tags if t == "img"]
    for url in assets:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        asset.close()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_vendored_libraries_ship_with_their_licenses(client):
    for path in (
        "vendor/chartjs/LICENSE.md",
        "vendor/chartjs-chart-geo/LICENSE",
        "vendor/chartjs-chart-matrix/LICENSE",
        "vendor/world-atlas/LICENSE",
    ):
        response = client.get(f"/static/dashboard/{path}")
        assert response.status_code == 200 and b"Permission" in response.data, path
        response.close()
    world = client.get("/static/dashboard/vendor/world-atlas/countries-110m.json")
    assert world.get_json()["type"] == "Topology"
    world.close()


def test_language_follows_the_browser(client, demo_data):
    french = client.get("/evolution", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    html = french.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Évolution" in html and "Période" in html
    config = page_config(html)
    assert config["language"] == "fr" and config["strings"]["High risks"] == "Risques élevés"
    assert config["labelFields"][0] == "label2"

    english = client.get("/evolution", headers={"Accept-Language": "de-DE,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Evolution over time" in english
    assert page_config(english)["labelFields"][0] == "label1"
    unknown = client.get("/evolution", headers={"Accept-Language": "xx"}).get_data(as_text=True)
    assert '<html lang="en">' in unknown


def test_global_hub_pages_say_community(make_app):
    app = make_app(MODE="global")
    client = app.test_client()
    assert "Community risk landscape" in client.get("/").get_data(as_text=True)
    assert "MONARC community dashboard" in client.get("/map").get_data(as_text=True)
    french = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "communauté" in french
    local = make_app().test_client()
    assert "Community risk landscape" not in local.get("/").get_data(as_text=True)


def test_local_hub_offers_pulled_community_series(app, client, demo_data):
    assert page_config(client.get("/evolution").get_data(as_text=True))["community"] == {}
    assert client.get("/stats/community.json?processor=risk_averages_on_date").status_code == 404

    day = {"date": "2026-01-01", "value": 2.5, "n": 4.0}
    series = {"current": {"informational": {"Low risks": [day]}}}
    replace_community_series(
        [{"processor": "risk_averages_on_date", "period": "day", "type": "risk", "data": series}]
    )
    db.session.commit()
    config = page_config(client.get("/evolution").get_data(as_text=True))
    # the charts that can be compared with the pulled day series, and the series each comes from
    assert config["community"] == {
        "risk_averages": "risk_averages_on_date",
        "risk_averages_on_date": "risk_averages_on_date",
    }
    window = "date_from=2025-12-01&date_to=2026-01-31"
    response = client.get(f"/stats/community.json?processor=risk_averages_on_date&period=month&{window}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["period"] == "month" and body["type"] == "risk" and (body["days"], body["analyses"]) == (1, 4)
    assert body["data"]["current"]["informational"]["Low risks"] == [{**day, "date": "2026-01-01"}]
    whole = client.get(f"/stats/community.json?processor=risk_averages&{window}").get_json()
    assert whole["data"]["current"]["informational"]["Low risks"] == 2.5
    assert client.get("/about.json").get_json()["community_series"] == ["risk_averages_on_date"]


def test_community_route_rejects_bad_parameters(client):
    for query, field in (
        ("", "processor"),
        ("processor=x&period=decade", "period"),
        ("processor=x&y=1", "y"),
    ):
        response = client.get(f"/stats/community.json?{query}")
        assert response.status_code == 400, query
        assert field in response.get_json()["errors"], query


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_unknown_page_is_json_for_api_clients(client):
    for path, accept in (
        ("/no-such-page", None),
        ("/no-such-page", "*/*"),
        ("/no-such-page", "application/json"),
        ("/api/v1/nothing", BROWSER_ACCEPT),
        ("/stats/nothing.json", BROWSER_ACCEPT),
    ):
        response = client.get(path, headers={"Accept": accept} if accept else {})
        assert response.status_code == 404, path
        assert set(response.get_json()) == {"message", "errors"}, (path, accept)


def test_unknown_page_is_an_html_404_for_browsers(client):
    response = client.get("/no-such-page", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Page not found" in html and 'href="/about"' in html and "dashboard.css" in html
    french = client.get("/nope?lang=fr", headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
    assert '<html lang="fr">' in french and "Page introuvable" in french


def test_lang_parameter_wins_and_stays_in_links(client, demo_data):
    html = client.get("/evolution?lang=fr", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="fr">' in html and page_config(html)["language"] == "fr"
    links = [a["href"] for a in Tags(html).find("a") if a.get("href", "").startswith("/")]
    assert "/cartography?lang=fr" in links and "/about?lang=fr" in links
    switch = {a["data-lang"]: a["href"] for a in Tags(html).find("a") if a.get("data-lang")}
    assert switch == {"en": "/evolution?lang=en", "fr": "/evolution?lang=fr"}
    english = client.get("/evolution?lang=en", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in english
    ignored = client.get("/evolution?lang=xx", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="fr">' in ignored


def test_about_names_record_types_in_the_page_language(client, demo_data):
    html = client.get("/about?lang=fr").get_data(as_text=True)
    assert "Vulnérabilités" in html and "Menaces" in html and "local" in html


def test_label_language_is_configurable(make_app):
    app = make_app(DASHBOARD_LABEL_FIELDS={"en": "label3", "fr": "label1"})
    client = app.test_client()
    english = page_config(client.get("/about").get_data(as_text=True))
    assert english["labelFields"] == ["label3", "label1", "label2", "label4"]
    french = page_config(client.get("/about", headers={"Accept-Language": "fr"}).get_data(as_text=True))
    assert french["labelFields"][0] == "label1"


def test_map_speaks_of_areas_and_organisations(client, demo_data):
    """The map shows areas of at least k organisations, not clients: its texts say so."""
    english = client.get("/map").get_data(as_text=True)
    assert "where at least 3 organisations gave their location" in english
    assert "<h2>Areas</h2>" in english
    french = client.get("/map?lang=fr").get_data(as_text=True)
    assert "au moins 3 organisations ont donné leur position" in french and "<h2>Zones</h2>" in french
    strings = page_config(english)["strings"]
    assert (strings["areaOnMap"], strings["areasOnMap"]) == ("area on the map", "areas on the map")
    assert page_config(french)["strings"]["areasOnMap"] == "zones sur la carte"

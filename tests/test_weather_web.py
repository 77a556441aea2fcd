"""The weather through HTTP: ``stats_weather`` on demo data with weather in it, then the JSON,
the Atom feed (read by feedparser, as a feed reader does), the page in English and French and
the monthly bulletin; bad parameters are 400/404 JSON; a hub without enough history says so."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import func, select

from statsservice.cli.demo import fill
from statsservice.domain.weather import states
from statsservice.extensions import db
from statsservice.storage.models import Weather
from tests import frozen_clock
from tests.api_support import release

WEEKS = 20  # enough released weeks for forecasts (12) and for the demo's recent changes


def weeks() -> dict[str, str]:
    """What the weather covers at the suite's instant (it moves with STATS_TEST_CLOCK): the last
    complete week released (FEDERATION_DELAY_DAYS = 2), its month, the month before it."""
    final = frozen_clock.today() - timedelta(days=2)
    as_of = final - timedelta(days=(final.weekday() + 1) % 7)  # the Sunday on or before
    month = states.month_of(as_of - timedelta(days=6))
    return {
        "as_of": as_of.isoformat(),
        "last_week": (as_of - timedelta(days=6)).isoformat(),
        "next_week": (as_of + timedelta(days=1)).isoformat(),
        "month": month,
        "bulletin": states.previous_month(month),
    }


@pytest.fixture
def weather_hub(app, cli):
    fill(analyses=10, days=WEEKS * 7, weather=True)
    release()  # the weather reads released days only
    result = cli.invoke(args=["stats_weather", "--top", "1"])
    assert result.exit_code == 0, result.output
    return result.output


def rows() -> list[tuple]:
    return db.session.execute(
        select(Weather.kind, Weather.key, Weather.as_of, Weather.data).order_by(Weather.id)
    ).all()


def feed(client, **query):
    response = client.get("/stats/weather.atom", query_string=query)
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


def test_weather_on_demo_data(weather_hub, cli, client):
    """One computed hub (a run costs model fits) checked from every side."""
    command_is_idempotent_and_feed_ids_stable(weather_hub, cli, client)
    weather_json_shape(client)
    for lang in ("en", "fr"):
        page_and_bulletin_render(client, lang)
    bad_parameters_are_clear_errors(client)


def command_is_idempotent_and_feed_ids_stable(weather_hub, cli, client):
    w = weeks()
    assert (
        f"weather as of {w['as_of']}" in weather_hub and f"bulletin {w['bulletin']} published" in weather_hub
    )
    before, first_feed = rows(), feed(client)
    again = cli.invoke(args=["stats_weather", "--top", "1"])
    assert again.exit_code == 0 and "nothing changed" in again.output and "(0 new)" in again.output, (
        again.output
    )
    assert rows() == before
    second_feed = feed(client)
    ids = [entry.id for entry in first_feed.entries]
    assert ids and ids == [entry.id for entry in second_feed.entries]
    assert len(set(ids)) == len(ids)
    titles = [entry.title for entry in first_feed.entries]
    assert any(title.startswith(f"Cyber weather bulletin {w['bulletin']}") for title in titles), titles
    assert any(" up from " in title or " down from " in title for title in titles), titles
    assert all(entry.link.startswith("http://localhost/weather") for entry in first_feed.entries)
    assert first_feed.feed.title == "Cyber weather · statsservice"
    assert feed(client, lang="fr").entries[0].id == ids[0]


def weather_json_shape(client):
    response = client.get("/stats/weather.json")
    assert response.status_code == 200 and response.headers["ETag"]
    body, w = response.get_json(), weeks()
    assert body["status"] == "ready" and body["as_of"] == w["as_of"] and body["period"] == "week"
    assert [s["category"] for s in body["states"]] == ["threats", "vulnerabilities", "risks", "compliance"]
    assert all(
        s["state"] in ("calm", "worrying", "serious") and s["month"] == w["month"] for s in body["states"]
    )
    assert body["warnings"], "the demo's changes give warnings"
    for warning in body["warnings"]:
        assert {"type", "key", "label", "metric", "direction", "since", "text", "from", "to"} <= set(warning)
        assert warning["direction"] in ("rising", "falling") and warning["label"] in warning["text"]
    types = {s["type"] for s in body["series"]}
    assert types == {"threat", "vulnerability", "risk", "cartography", "compliance"}
    forecast = [s for s in body["series"] if s["status"] == "forecast"]
    assert forecast
    for entry in forecast:
        assert {"type", "key", "label", "metric", "history", "forecast", "backtest"} <= set(entry)
        assert entry["history"][-1]["date"] == w["last_week"]
        first = entry["forecast"][0]
        assert first["date"] == w["next_week"] and set(first) == {
            "date",
            "mean",
            "lower80",
            "upper80",
            "lower95",
            "upper95",
        }
        assert {"model", "mase", "coverage80", "coverage95"} <= set(entry["backtest"])
    one = forecast[0]
    only = client.get(
        "/stats/weather.json", query_string={k: one[k] for k in ("type", "key", "metric")}
    ).get_json()
    assert [s["id"] for s in only["series"]] == [one["id"]]
    french = client.get("/stats/weather.json?lang=fr").get_json()
    assert any(" en hausse de " in w["text"] or " en baisse de " in w["text"] for w in french["warnings"])


def page_and_bulletin_render(client, lang):
    html = client.get(f"/weather?lang={lang}").get_data(as_text=True)
    assert 'id="weather-states"' in html and 'id="weather-warnings"' in html and "js/weather.js" in html
    assert html.index('id="weather-warnings"') < html.index('id="weather-charts"')  # warnings first
    assert html.count('data-role="accuracy"') == html.count('data-chart="')  # accuracy under each chart
    assert ("MASE" in html) and ("Météo cyber" in html) == (lang == "fr")
    assert 'href="/weather?lang=' in html or 'href="/weather"' in html  # in the menu
    bulletin = client.get(f"/weather/bulletin/{weeks()['bulletin']}?lang={lang}")
    assert bulletin.status_code == 200
    text = bulletin.get_data(as_text=True)
    assert 'id="bulletin-states"' in text and 'id="bulletin-movers"' in text
    assert ("Bulletin de météo cyber" in text) == (lang == "fr")


def bad_parameters_are_clear_errors(client):
    for query in ({"type": "planet"}, {"metric": "x"}, {"lang": "de"}, {"bogus": "1"}, {"key": "k" * 300}):
        response = client.get("/stats/weather.json", query_string=query)
        assert response.status_code == 400 and response.get_json()["errors"], query
    missing = client.get("/stats/weather.json", query_string={"type": "risk", "key": "nope"})
    assert missing.status_code == 404 and missing.get_json()["message"] == "no such weather series"
    assert client.get("/stats/weather.atom?lang=xx").status_code == 400
    for month in ("2026-13", "1999-01", "x"):
        response = client.get(f"/weather/bulletin/{month}", headers={"Accept": "application/json"})
        assert response.status_code == 404 and response.get_json()["message"]


def test_before_the_first_run_and_with_too_little_history(app, cli, client):
    body = client.get("/stats/weather.json").get_json()
    assert body == {
        "status": "empty",
        "as_of": None,
        "period": "week",
        "month": None,
        "states": [],
        "warnings": [],
        "series": [],
    }
    assert "No weather yet" in client.get("/weather").get_data(as_text=True)
    assert feed(client).entries == []

    fill(analyses=10, days=30, weather=True)  # four weeks: fewer than the 12 a forecast needs
    release()
    result = cli.invoke(args=["stats_weather", "--top", "1"])
    assert result.exit_code == 0 and "0 forecast" in result.output, result.output
    body = client.get("/stats/weather.json").get_json()
    assert body["series"] and all(
        s["status"] == "insufficient" and s["forecast"] == [] for s in body["series"]
    )
    assert body["warnings"] == [] and all(s["state"] is None for s in body["states"])
    html = client.get("/weather").get_data(as_text=True)
    assert "Not enough data" in html and "<canvas" in html
    assert db.session.scalar(select(func.count()).select_from(Weather).where(Weather.kind == "bulletin")) == 0

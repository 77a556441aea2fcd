"""The community beside a local chart is computed like the chart itself: with identical data on
both sides (the hub pulls its own whole-hub answers, as a global hub holding the same data would
answer), every community figure equals the local one, for every window and period (issue 14:
"Fire shows 2.76 vs 2.30 on identical data" must not happen)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statsservice import clock
from statsservice.cli.demo import fill
from statsservice.extensions import db
from statsservice.storage.federation import replace_community_series
from statsservice.web import community
from tests.api_support import auth, new_client, release
from tests.approx import assert_close

DAYS = 40  # several weeks and two months: buckets cut by the window's edges
#: a chart's public route and processor, and the periods it is drawn in
CHARTS = [
    ("threats", "threat_average_on_date", ("day", "week", "month", "quarter", "year")),
    ("vulnerabilities", "vulnerability_average_on_date", ("day", "week", "month")),
    ("risks", "risk_averages", ("day",)),
    ("risks", "risk_averages_on_date", ("day", "week", "month", "quarter", "year")),
    ("compliance", "compliance_averages", ("day",)),
    ("compliance", "compliance_averages_on_date", ("day", "month")),
    ("cartography", "cartography_heatmap", ("day",)),
]


def pull_from(client, token: str) -> None:
    """What ``stats_pull`` asks a global hub for and stores, asked of this very hub."""
    today = clock.today()
    series = []
    for name in community.PULLED:
        response = client.get(
            "/api/v1/stats/processed/",
            query_string={
                "processor": name,
                "aggregation_period": community.PULL_PERIOD,
                "date_from": (today - timedelta(days=365)).isoformat(),
                "date_to": today.isoformat(),
            },
            headers=auth(token),
        )
        assert response.status_code == 200, (name, response.get_json())
        body = response.get_json()
        series.append(
            {"processor": name, "period": community.PULL_PERIOD, "type": body["type"], "data": body["data"]}
        )
    replace_community_series(series)
    db.session.commit()


@pytest.fixture
def identical(app, client):
    fill(analyses=10, days=DAYS)
    release()
    # a hub pulls as a hub client of the global hub: the released weights as they are
    pull_from(client, new_client("Puller", local=False))
    return client


def windows(client) -> list[dict]:
    today = clock.today()
    newest = client.get("/stats/risks.json?last_stats=1&processor=risk_averages").get_json()["date_to"]
    return [
        {"days": 90},
        {"days": 30},
        {
            "date_from": (today - timedelta(days=17)).isoformat(),
            "date_to": (today - timedelta(days=3)).isoformat(),
        },
        {"date_from": newest, "date_to": newest},  # latest snapshots
    ]


@pytest.mark.parametrize(("route", "processor", "periods"), CHARTS)
def test_identical_data_gives_identical_figures(identical, route, processor, periods):
    client = identical
    for window in windows(client):
        for period in periods:
            local = client.get(
                f"/stats/{route}.json", query_string={**window, "processor": processor, "period": period}
            )
            assert local.status_code == 200
            mine = local.get_json()
            theirs = client.get(
                "/stats/community.json",
                query_string={
                    "processor": processor,
                    "date_from": mine["date_from"],
                    "date_to": mine["date_to"],
                    "period": period,
                },
            )
            assert theirs.status_code == 200, theirs.get_json()
            body = theirs.get_json()
            assert body["days"] > 0 and (body["date_from"], body["date_to"]) == (
                mine["date_from"],
                mine["date_to"],
            )
            assert mine["data"], (processor, window)
            assert_close(mine["data"], body["data"])


def test_the_issue_example_threat_means_match(identical):
    """On Current (the default window), each threat's probability is the same on both sides."""
    client = identical
    mine = client.get("/stats/threats.json?days=90").get_json()
    theirs = client.get(
        "/stats/community.json",
        query_string={
            "processor": "threat_average_on_date",
            "date_from": mine["date_from"],
            "date_to": mine["date_to"],
        },
    ).get_json()
    ours = {item["object"]: item["averages"]["averageRate"] for item in mine["data"]}
    community_means = {item["object"]: item["averages"]["averageRate"] for item in theirs["data"]}
    assert ours.keys() == community_means.keys() and ours
    for key, value in ours.items():
        assert community_means[key] == pytest.approx(value, rel=1e-9)


def test_no_community_data_for_the_window(identical):
    """A window before the pulled days: the answer says so (no day), and the data is empty."""
    client = identical
    body = client.get(
        "/stats/community.json",
        query_string={"processor": "cartography_heatmap", "date_from": "2020-01-01", "date_to": "2020-03-31"},
    ).get_json()
    assert body["days"] == 0 and body["analyses"] == 0
    assert all(cells == [] for state in ("current", "residual") for cells in body["data"][state].values())


def test_pages_offer_what_was_pulled(identical):
    """The pages list the charts a comparison is possible for; Cartography shows the community map."""
    client = identical
    html = client.get("/cartography").get_data(as_text=True)
    assert 'id="card-heatmap-community"' in html and 'id="community-note"' in html
    html = client.get("/cartography?lang=fr").get_data(as_text=True)
    assert "Carte de chaleur — communauté" in html


def test_unknown_or_unpulled_processor(app, client):
    fill(analyses=3, days=3)
    assert client.get("/stats/community.json?processor=risk_averages").status_code == 404
    assert 'id="card-heatmap-community"' not in client.get("/cartography").get_data(as_text=True)
    response = client.get("/stats/community.json?processor=nope")
    assert response.status_code == 400 and "processor" in response.get_json()["errors"]

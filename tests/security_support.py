"""Every route of the hub, who may call it, and one request per route that succeeds for a caller
allowed to make it: shared by the authorization matrix and the security-header tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from statsservice.demo.payloads import Generator
from statsservice.domain.weather import states
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage import weather_store
from statsservice.storage.federation import replace_community_series
from tests import frozen_clock
from tests.api_support import auth, new_client

REPO = Path(__file__).resolve().parent.parent
PUBLIC, CLIENT, ADMIN, OPERATOR = "public", "client", "admin", "operator"
ROLES = ("anonymous", "user", "admin", "inactive")
#: methods Flask answers by itself for every route (HEAD runs GET's view, OPTIONS lists methods)
AUTOMATIC = {"HEAD", "OPTIONS"}
TODAY = frozen_clock.today()

#: (rule, method) -> who may call it; the same as docs/SECURITY.md
ACCESS: dict[tuple[str, str], str] = {
    ("/", "GET"): PUBLIC,
    ("/evolution", "GET"): PUBLIC,
    ("/cartography", "GET"): PUBLIC,
    ("/compliance", "GET"): PUBLIC,
    ("/map", "GET"): PUBLIC,
    ("/about", "GET"): PUBLIC,
    ("/about.json", "GET"): PUBLIC,
    ("/stats/threats.json", "GET"): PUBLIC,
    ("/stats/vulnerabilities.json", "GET"): PUBLIC,
    ("/stats/risks.json", "GET"): PUBLIC,
    ("/stats/compliance.json", "GET"): PUBLIC,
    ("/stats/cartography.json", "GET"): PUBLIC,
    ("/stats/map.json", "GET"): PUBLIC,
    ("/stats/community.json", "GET"): PUBLIC,
    ("/stats/weather.json", "GET"): PUBLIC,
    ("/stats/weather.atom", "GET"): PUBLIC,
    ("/weather", "GET"): PUBLIC,
    ("/weather/bulletin/<month>", "GET"): PUBLIC,
    ("/static/dashboard/<path:filename>", "GET"): PUBLIC,
    ("/healthz", "GET"): PUBLIC,
    ("/readyz", "GET"): PUBLIC,
    ("/metrics", "GET"): OPERATOR,
    ("/api/v1/", "GET"): PUBLIC,
    ("/api/v1/openapi.json", "GET"): PUBLIC,
    ("/api/v1/static/<path:filename>", "GET"): PUBLIC,
    ("/api/v1/stats/processed/list", "GET"): PUBLIC,
    ("/api/v1/stats/", "GET"): CLIENT,
    ("/api/v1/stats/", "POST"): CLIENT,
    ("/api/v1/stats/<uuid:anr>", "DELETE"): CLIENT,
    ("/api/v1/stats/processed/", "GET"): CLIENT,
    ("/api/v1/client/me", "GET"): CLIENT,
    ("/api/v1/client/me", "PATCH"): CLIENT,
    ("/api/v1/client/", "POST"): ADMIN,
}

#: status each role gets, by access: "2xx" means any success
EXPECTED = {
    PUBLIC: {"anonymous": "2xx", "user": "2xx", "admin": "2xx", "inactive": "2xx"},
    # /metrics with the default configuration: API keys neither open nor close it (see below)
    OPERATOR: {"anonymous": "2xx", "user": "2xx", "admin": "2xx", "inactive": "2xx"},
    CLIENT: {"anonymous": 401, "user": "2xx", "admin": "2xx", "inactive": 403},
    ADMIN: {"anonymous": 401, "user": 403, "admin": "2xx", "inactive": 403},
}


@dataclass
class Caller:
    role: str
    token: str | None
    anr: str  # an analysis of this caller (of the user client for those without records)
    serial: Callable[[], int]

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token) if self.token else {"User-Agent": "MONARC/2.13.1"}


def record(anr_index: int, kind: str = "risk") -> dict:
    batch = Generator(seed=5, anrs=2).day_batch(anr_index, TODAY)
    return next(r for r in batch if r["type"] == kind)


#: one request per (rule, method) that succeeds for a caller allowed to make it
SAMPLES: dict[tuple[str, str], Callable[[Caller], tuple[str, dict]]] = {
    ("/stats/community.json", "GET"): lambda c: (
        "/stats/community.json?processor=risk_averages&date_from=2026-01-01&date_to=2026-01-31",
        {},
    ),
    ("/weather/bulletin/<month>", "GET"): lambda c: ("/weather/bulletin/2026-10", {}),
    ("/static/dashboard/<path:filename>", "GET"): lambda c: ("/static/dashboard/css/dashboard.css", {}),
    ("/api/v1/static/<path:filename>", "GET"): lambda c: ("/api/v1/static/api/reference.css", {}),
    ("/api/v1/stats/", "GET"): lambda c: ("/api/v1/stats/?type=risk", {}),
    ("/api/v1/stats/", "POST"): lambda c: (
        "/api/v1/stats/",
        {"json": [record(0 if c.role != "admin" else 1)]},
    ),
    ("/api/v1/stats/<uuid:anr>", "DELETE"): lambda c: (f"/api/v1/stats/{c.anr}", {}),
    ("/api/v1/stats/processed/", "GET"): lambda c: ("/api/v1/stats/processed/?processor=risk_averages", {}),
    ("/api/v1/client/me", "PATCH"): lambda c: ("/api/v1/client/me", {"json": {"is_sharing_enabled": True}}),
    ("/api/v1/client/", "POST"): lambda c: ("/api/v1/client/", {"json": {"name": f"Matrix {c.serial()}"}}),
}


def routes(app) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - AUTOMATIC)
    }


def setup_callers() -> dict[str, Caller]:
    counter = itertools.count(1)
    user, admin = new_client("Matrix user"), new_client("Matrix admin", admin=True)
    inactive = new_client("Matrix inactive")
    retired = registry.get_by_name("Matrix inactive")
    retired.is_active = False
    replace_community_series(
        [{"processor": "risk_averages_on_date", "period": "day", "type": "risk", "data": {"current": {}}}]
    )
    # a month's bulletin as stats_weather stores it (a calm month: nothing warned, nothing moved)
    calm = states.bulletin("2026-10", [], {"threat": 1}, [], None)
    weather_store.save_bulletin(calm, date(2026, 10, 31))
    db.session.commit()
    anrs = {"user": record(0)["anr"], "admin": record(1)["anr"]}
    return {
        "anonymous": Caller("anonymous", None, anrs["user"], lambda: next(counter)),
        "user": Caller("user", user, anrs["user"], lambda: next(counter)),
        "admin": Caller("admin", admin, anrs["admin"], lambda: next(counter)),
        "inactive": Caller("inactive", inactive, anrs["user"], lambda: next(counter)),
    }


def call(http, caller: Caller, rule: str, method: str):
    sample = SAMPLES.get((rule, method))
    path, kwargs = sample(caller) if sample else (rule, {})
    return http.open(path, method=method, headers=caller.headers, **kwargs)


def seed_records(http, callers: dict[str, Caller]) -> None:
    """The user and the admin each have one analysis (so DELETE has something to delete)."""
    for role, index in (("user", 0), ("admin", 1)):
        response = http.post("/api/v1/stats/", json=[record(index)], headers=callers[role].headers)
        assert response.status_code == 201, response.get_json()

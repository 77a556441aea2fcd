"""Security headers on every response of every route (pages, JSON, errors), and HTML that a CSP
allowing only 'self' runs whole: no inline script, no inline handler or style, nothing from elsewhere.
Routes come from ``app.url_map`` (through ``tests/security_support``), so a new page is checked too."""

from __future__ import annotations

import json
import posixpath
import re
from html.parser import HTMLParser

import pytest

from statsservice.cli.demo import fill
from tests.api_support import auth, release
from tests.security_support import ACCESS, call, seed_records, setup_callers

SOURCES_ALLOWED = {"'self'", "'none'", "data:", "blob:"}
#: a non-executable data block is the only script without src a page may hold
DATA_BLOCK = "application/json"
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "poster", "data")


def csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = [part.split() for part in policy.split(";") if part.strip()]
    return {words[0]: words[1:] for words in directives}


def assert_security_headers(response, what: str) -> None:
    policy = csp(response)
    assert policy["default-src"] == ["'self'"], what
    assert policy["script-src"] == ["'self'"], what
    assert policy["style-src"] == ["'self'"], what
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], what
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"], what
    for directive, sources in policy.items():
        assert set(sources) <= SOURCES_ALLOWED, f"{what}: {directive} allows {sources}"
    assert response.headers["X-Content-Type-Options"] == "nosniff", what
    assert response.headers["X-Frame-Options"] == "DENY", what
    assert response.headers["Referrer-Policy"] == "same-origin", what
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", what


class Page(HTMLParser):
    """Every tag with its attributes, and every script with its text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._script: dict[str, str] | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "script":
            self._script, self._text = attributes, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None


def assert_self_only_html(html: str, what: str) -> list[str]:
    """Check one page; return the same-origin URLs it loads (scripts, styles, images)."""
    page = Page(html)
    for attrs, text in page.scripts:
        if attrs.get("src"):
            assert not text.strip(), f"{what}: a script with src also has a body"
        else:
            assert attrs.get("type") == DATA_BLOCK, f"{what}: inline script {text[:80]!r}"
            json.loads(text)  # a data block is data: it must parse, not run
    loads = []
    for tag, attrs in page.tags:
        assert tag != "style", f"{what}: <style> element"
        assert "style" not in attrs, f"{what}: style attribute on <{tag}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"{what}: inline handler {handlers} on <{tag}>"
        for name in URL_ATTRIBUTES:
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("javascript:", "vbscript:")), f"{what}: {name}={value}"
            assert not value.startswith(("http:", "https:", "//")), f"{what}: {name} leaves the hub: {value}"
        if tag in ("script", "img") and attrs.get("src"):
            loads.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            loads.append(attrs["href"])
    return loads


@pytest.fixture
def hub(app, make_app):
    """A hub with a user and an admin who each uploaded one analysis, limits off."""
    hub = make_app(RATELIMIT_ENABLED=False)
    http = hub.test_client()
    with hub.app_context():
        callers = setup_callers()
        seed_records(http, callers)
        yield hub, http, callers


@pytest.mark.parametrize("role", ["anonymous", "user"])
def test_every_route_sends_the_security_headers(hub, role):
    _hub, http, callers = hub
    for rule, method in sorted(ACCESS):
        response = call(http, callers[role], rule, method)
        assert_security_headers(response, f"{method} {rule} as {role} ({response.status_code})")
        if response.mimetype == "application/json":
            assert response.is_json
        response.close()


def test_error_responses_send_them_too(hub):
    _hub, http, callers = hub
    answers = [
        http.get("/no/such/page"),
        http.delete("/api/v1/client/me", headers=callers["user"].headers),  # 405
        http.get("/api/v1/stats/?type=risk"),  # 401
        http.post(
            "/api/v1/stats/",
            data=b"{",
            headers={**callers["user"].headers, "Content-Type": "application/json"},
        ),
        http.get("/stats/risks.json?days=-1"),
    ]
    assert [r.status_code for r in answers] == [404, 405, 401, 400, 400]
    for response in answers:
        assert_security_headers(response, f"{response.status_code}")
        assert set(response.get_json()) == {"message", "errors"}


def test_every_html_page_runs_under_the_csp(hub):
    """Each route answering HTML (with data, without, in French) holds nothing the CSP would block,
    and everything it loads is served by the hub."""
    _hub, http, callers = hub
    checked = 0
    for language in ("en", "fr"):
        for rule, method in sorted(ACCESS):
            if method != "GET":
                continue
            response = (
                call(http, callers["anonymous"], rule, method)
                if "<" in rule
                else http.get(rule, headers={"Accept-Language": language})
            )
            if response.mimetype != "text/html":
                response.close()
                continue
            what = f"{rule} ({language})"
            assert response.status_code == 200, what
            for url in assert_self_only_html(response.get_data(as_text=True), what):
                asset = http.get(url)
                assert asset.status_code == 200, f"{what} loads {url}: {asset.status_code}"
                assert_security_headers(asset, url)
                asset.close()
            checked += 1
    assert checked >= 2 * 7  # six dashboard pages and the API page, in both languages


def test_the_dashboard_scripts_never_write_html(hub):
    """Labels come from clients: the hub's own scripts put text into the page with textContent,
    never through an HTML sink, so a label like ``<img src=x onerror=...>`` stays text."""
    _hub, http, _callers = hub
    fill(analyses=10, days=3)  # every type released by five organisations: every page has charts
    release()
    sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function")
    pending = set()
    for rule in ("/", "/evolution", "/cartography", "/compliance", "/map"):
        page = Page(http.get(rule).get_data(as_text=True))
        pending |= {a["src"] for a, _ in page.scripts if a.get("src") and "/vendor/" not in a["src"]}
    seen: set[str] = set()
    while pending:  # follow the modules' relative imports
        url = pending.pop()
        seen.add(url)
        response = http.get(url)
        source = response.get_data(as_text=True)
        response.close()
        assert response.status_code == 200 and source, url
        for sink in sinks:
            assert sink not in source, f"{url} uses {sink}"
        for relative in re.findall(r"""(?:from|import)\s*\(?\s*["'](\./[^"']+)["']""", source):
            imported = posixpath.normpath(posixpath.join(posixpath.dirname(url), relative))
            if imported not in seen:
                pending.add(imported)
    assert len(seen) >= 6  # five page scripts and the module they share


def test_a_hostile_label_stays_text_in_every_answer(hub):
    """A label carrying markup is stored and served as JSON text, never inside an HTML page."""
    _hub, http, callers = hub
    from tests.security_support import record

    hostile = '</script><script>alert(1)</script><img src=x onerror="alert(2)">'
    threat = record(0, "threat")
    threat["data"][0]["label1"] = hostile
    assert http.post("/api/v1/stats/", json=[threat], headers=auth(callers["user"].token)).status_code == 201
    # one client's label is not public (fewer than k organisations use it): its own answers carry it
    served = http.get(
        "/api/v1/stats/",
        query_string={"type": "threat", "date_from": threat["date"], "date_to": threat["date"]},
        headers=auth(callers["user"].token),
    )
    assert served.mimetype == "application/json"
    assert hostile in [item["label1"] for rec in served.get_json()["data"] for item in rec["data"]]
    for rule in ("/", "/evolution", "/map", "/about"):
        html = http.get(rule).get_data(as_text=True)
        assert "alert(" not in html, rule

"""Behind nginx (``contrib/nginx.conf.sample``) with ``TRUSTED_PROXIES = 1``: the app honours the
X-Forwarded-* headers, so links carry the public scheme, host and path prefix; without it the
same headers change nothing."""

from __future__ import annotations

import pytest

from statsservice.config import ConfigError

PROXY = {"X-Forwarded-Prefix": "/stats", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hub.example.org"}


def test_prefix_scheme_and_host_from_a_trusted_proxy(app, make_app):
    http = make_app(TRUSTED_PROXIES=1).test_client()
    redirect = http.get("/api/v1/stats", headers=PROXY)
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == "https://hub.example.org/stats/api/v1/stats/"
    page = http.get("/", headers=PROXY).get_data(as_text=True)
    assert 'href="/stats/static/' in page


def test_untrusted_headers_are_ignored(app, make_app):
    http = make_app().test_client()
    redirect = http.get("/api/v1/stats", headers=PROXY)
    assert redirect.status_code == 308
    assert (
        "example.org" not in redirect.headers["Location"] and "/stats/api" not in redirect.headers["Location"]
    )


@pytest.mark.parametrize("setting", [-1, "two"])
def test_bad_setting_fails_at_start(app, make_app, setting):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES=setting)

"""Behind a reverse proxy (``contrib/nginx.conf.sample``): trust the X-Forwarded-* headers of
``TRUSTED_PROXIES`` proxies, so client addresses, the scheme, the host and a path prefix
(``X-Forwarded-Prefix``) are the public ones in links, logs and the metrics allow-list."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from statsservice.config import ConfigError


def register(app: Flask) -> None:
    try:
        hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    except (TypeError, ValueError):
        raise ConfigError(
            f"TRUSTED_PROXIES must be a number of proxies, not {app.config['TRUSTED_PROXIES']!r}"
        ) from None
    if hops < 0:
        raise ConfigError("TRUSTED_PROXIES must be 0 or more")
    if hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )

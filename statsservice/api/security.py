"""Security headers on every response: pages may load only the hub's own scripts, styles and
images (no CDN, no inline script), and nothing may frame them. An answer to a request that
carries an API key holds a token or a client's own data, so no cache may keep it."""

from __future__ import annotations

from flask import Flask, Response, request

from statsservice.api.auth import API_KEY_HEADER

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def register(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if API_KEY_HEADER in request.headers:
            response.headers["Cache-Control"] = "no-store"
            response.vary.add(API_KEY_HEADER)
        return response

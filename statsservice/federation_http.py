"""HTTP transport to the global hub's API v1 (requests, with retries and backoff on transient
failures). Outside the domain layer: the domain plans what to send, this only carries it."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from statsservice.version import __version__

TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


class RemoteHub:
    """Talks to ``REMOTE_STATS_SERVER`` as a client of it (``REMOTE_STATS_TOKEN``).

    Uploads are idempotent upserts on the global hub, so retrying a POST is safe.
    """

    def __init__(
        self, base_url: str, token: str, *, retries: int = 3, backoff: float = 0.5, timeout: float = 60
    ):
        self.base_url = base_url.rstrip("/") + "/api/v1"
        self.timeout = timeout
        retry = Retry(
            total=retries,
            backoff_factor=backoff,
            status_forcelist=TRANSIENT_STATUSES,
            allowed_methods=None,  # every method: our calls are idempotent
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"X-API-KEY": token, "User-Agent": f"statsservice/{__version__}"})

    def post_stats(self, records: list[dict[str, Any]]) -> requests.Response:
        return self.session.post(f"{self.base_url}/stats/", json=records, timeout=self.timeout)

    def delete_analysis(self, anr: str) -> requests.Response:
        return self.session.delete(f"{self.base_url}/stats/{anr}", timeout=self.timeout)

    def processed(self, params: dict[str, Any]) -> requests.Response:
        return self.session.get(f"{self.base_url}/stats/processed/", json=params, timeout=self.timeout)

"""De-identification of what leaves a local hub (SPEC §7).

Aggregates carry no client, analysis or record identifier: their ``anr`` is a pseudonym made
with a keyed hash (HMAC-SHA256) from a secret that never leaves the hub, one per (type, day) so
that a withdrawn day can be deleted on the global hub without touching the others. Knowledge-base
labels are kept unless the operator asks to strip them.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import date
from typing import Any

from statsservice.domain.stats_types.fields import LABEL_FIELDS

#: keys that identify an element by itself; without one, ``label1`` is the element's identity
IDENTITY_KEYS = ("uuid", "referential", "code")


def pseudonym(secret: str, stats_type: str, day: date) -> str:
    """A stable UUID-shaped pseudonym for this hub's aggregate of one type and day."""
    digest = hmac.new(secret.encode(), f"aggregate|{stats_type}|{day.isoformat()}".encode(), hashlib.sha256)
    return str(uuid.UUID(bytes=digest.digest()[:16], version=4))


def strip_labels(data: Any) -> Any:
    """Blank every label; a label that is an element's only identity (compliance categories)
    becomes an unkeyed hash, so aggregates from different hubs still merge on the global hub."""
    if isinstance(data, list):
        return [strip_labels(item) for item in data]
    if not isinstance(data, dict):
        return data
    out = {key: strip_labels(value) for key, value in data.items()}
    if any(field in out for field in LABEL_FIELDS):
        identity = any(key in out for key in IDENTITY_KEYS)
        for field in LABEL_FIELDS:
            out[field] = ""
        if not identity and data.get("label1"):
            out["label1"] = "#" + hashlib.sha256(data["label1"].encode()).hexdigest()[:16]
    return out

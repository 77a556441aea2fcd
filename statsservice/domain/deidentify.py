"""De-identification of what leaves a local hub (SPEC §7).

An aggregate carries no client, analysis or record identifier. Its ``anr`` is a name derived
from the (type, day) alone, the same on every hub and after any reinstall: the global hub keys
aggregates by (pushing hub, type, day), so no secret is needed and a lost key cannot double a
hub. With label stripping, only knowledge-base identifiers (uuids) remain.
"""

from __future__ import annotations

import uuid
from datetime import date

#: namespace of aggregate names (uuid5): fixed, public, not a secret
AGGREGATE_NAMESPACE = uuid.UUID("6f1d3f0e-2b7a-5c9e-9a51-4c1f3e2d7b80")


def aggregate_anr(stats_type: str, day: date) -> str:
    """The ``anr`` of every hub's aggregate of one type and day."""
    return str(uuid.uuid5(AGGREGATE_NAMESPACE, f"aggregate|{stats_type}|{day.isoformat()}"))

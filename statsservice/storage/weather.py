"""The weather's one door to the data: ``released_series`` is the only place the cyber weather
reads figures, and it reads them through the whole-hub public path (the processors over the
public releases, as ``/stats/*.json`` does), so the weather is built from released cells only and
releases nothing new (SPEC §7). Nothing here reads ``stats`` or ``client_day``.
"""

from __future__ import annotations

from datetime import date

from statsservice.domain.weather.series import STATE, Series, from_processors
from statsservice.storage.processed import run_processor
from statsservice.storage.stats import StatsFilter

#: (stats type, processor, processor parameters) the weather reads, week by week
SOURCES = (
    ("threat", "threat_average_on_date", None),
    ("vulnerability", "vulnerability_average_on_date", None),
    ("risk", "risk_averages_on_date", {"risks_state": STATE}),
    ("cartography", "cartography_heatmap_on_date", {"risks_state": STATE}),
    ("compliance", "compliance_averages_on_date", None),
)


def released_series(date_from: date, date_to: date, top_n: int) -> list[Series]:
    """Every weather series over ``date_from``..``date_to`` (whole ISO weeks), from the released
    cells of the public processors, by week."""
    selection = StatsFilter(date_from=date_from, date_to=date_to)
    outputs = {
        stats_type: run_processor(
            name, stats_type=stats_type, params=params, selection=selection, period="week"
        )
        for stats_type, name, params in SOURCES
    }
    return from_processors(outputs, top_n)

"""Federation releases are exact: exploding what a push sends gives the same weighted sums as the
released cells of the raw records.

This is what lets the global hub's processors (weighted by ``n``) equal processors over the raw
records of every hub.
"""

from collections import defaultdict
from datetime import date

import pytest

from statsservice.demo.payloads import Generator
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.stats_types.base import KeySums

DENSE = ("risk", "cartography")  # means over every record: weight is the record's


def weighted_sums(type_name, records):
    """Per rollup key: (sum n*m1, sum n*m2, sum n*m3, sum n)."""
    stats_type = REGISTRY[type_name]
    sums = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for data, weight in records:
        for row in stats_type.explode(data, weight):
            acc = sums[(row.k1, row.k2, row.k3, row.k4)]
            acc[0] += row.n * row.m1
            acc[1] += row.n * row.m2
            acc[2] += row.n * row.m3
            acc[3] += row.n
    return sums


def records_for(type_name, anrs, day, seed):
    gen = Generator(seed=seed, anrs=anrs, php_quirks=True)
    loaded = []
    for index in range(anrs):
        record = next(r for r in gen.day_batch(index, day) if r["type"] == type_name)
        loaded.append((REGISTRY[type_name].load(record["data"]), 1))
    return loaded


def assert_same_sums(expected, actual, dense):
    keys = set(expected) | set(actual)
    for key in keys:
        e, a = expected.get(key, [0.0] * 4), actual.get(key, [0.0] * 4)
        for i in range(3):
            assert a[i] == pytest.approx(e[i], rel=1e-12, abs=1e-9), (key, i)
        if not dense:
            assert a[3] == pytest.approx(e[3]), key


def release(type_name, raw):
    """What a push sends for ``raw`` with nothing suppressed: ``assemble`` over the key sums."""
    sums = weighted_sums(type_name, raw)
    cells = [KeySums(key, n, (s1, s2, s3)) for key, (s1, s2, s3, n) in sums.items()]
    return REGISTRY[type_name].load(REGISTRY[type_name].assemble(cells, len(raw), {}))


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_releases_of_two_hubs_merge_exactly(type_name):
    """A global hub holding two hubs' releases has the sums of all their raw records together."""
    one = records_for(type_name, 7, date(2026, 3, 2), seed=3)
    two = records_for(type_name, 4, date(2026, 3, 2), seed=9)
    merged = weighted_sums(
        type_name, [(release(type_name, one), len(one)), (release(type_name, two), len(two))]
    )
    assert_same_sums(weighted_sums(type_name, one + two), merged, type_name in DENSE)


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_assembled_release_preserves_the_sums_of_its_cells(type_name):
    """What a push sends is ``assemble`` over the released key sums: valid input for a global
    hub, and exploding it gives back exactly those sums (DP off)."""
    stats_type = REGISTRY[type_name]
    raw = records_for(type_name, 7, date(2026, 3, 2), seed=3)
    sums = weighted_sums(type_name, raw)
    cells = [KeySums(key, n, (s1, s2, s3)) for key, (s1, s2, s3, n) in sums.items()]
    released = stats_type.load(stats_type.assemble(cells, len(raw), {}))
    assert_same_sums(sums, weighted_sums(type_name, [(released, len(raw))]), dense=type_name in DENSE)
    # a cell left out (suppressed) is absent, the others unchanged
    kept = cells[1:]
    partial = weighted_sums(type_name, [(stats_type.load(stats_type.assemble(kept, len(raw), {})), len(raw))])
    assert cells[0].key not in {key for key, value in partial.items() if any(value[:3])} or not any(
        sums[cells[0].key][:3]
    )

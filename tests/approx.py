"""Comparing processor results: same structure, numbers equal to 1e-9 (SPEC §5 means are floats)."""

from __future__ import annotations

from typing import Any

import pytest


def assert_close(expected: Any, actual: Any, path: str = "$") -> None:
    """Walk both trees together; the failing path names the first value that differs."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(expected) == set(actual), (path, expected, actual)
        for key in expected:
            assert_close(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(expected) == len(actual), (path, expected, actual)
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_close(e, a, f"{path}[{i}]")
    elif isinstance(expected, float | int) and not isinstance(expected, bool):
        assert isinstance(actual, float | int), (path, actual)
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9), (path, expected, actual)
    else:
        assert expected == actual, (path, expected, actual)

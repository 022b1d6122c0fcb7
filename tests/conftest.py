"""Shared fixtures for the test suite."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture
def plain_pvalues(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch Besag-Clifford early stopping off: every Monte Carlo p-value then uses all
    ``B`` draws, ``(1 + #{T_b >= T}) / (1 + B)``, for tests of the samplers themselves."""
    from shiftguard.stats import montecarlo

    monkeypatch.setattr(montecarlo, "STOP_AFTER", 10**12)

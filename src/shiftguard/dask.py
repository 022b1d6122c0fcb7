"""Profiles and drift reports of Dask DataFrames (the ``dask`` extra).

:func:`profile` builds a :class:`~shiftguard.profile.Profile` per partition on the workers
and merges them in a tree reduction; :func:`compare` compares two Dask DataFrames (or a
Dask DataFrame and a profile) with the guarantee of :mod:`shiftguard.profile.compare`:
the in-memory verdicts while columns stay below the exact threshold, bounded (and refined
by a second pass over the undecided bins) above it. The first rows fix the column kinds.

Examples
--------
>>> import numpy as np, pandas as pd, dask.dataframe as dd
>>> import shiftguard.dask as sgd
>>> rng = np.random.default_rng(0)
>>> ref = dd.from_pandas(pd.DataFrame({"x": rng.normal(size=400)}), npartitions=4)
>>> cur = dd.from_pandas(pd.DataFrame({"x": rng.normal(1.0, size=300)}), npartitions=3)
>>> sgd.compare(ref, cur).drifted_columns
('x',)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shiftguard.drift.results import DriftReport
from shiftguard.profile import Profile, ProfileSettings
from shiftguard.profile.dask import DaskSource


def profile(frame: Any, *, kinds: Mapping[str, str] | None = None,
            columns: Sequence[str] | None = None, exclude: Sequence[str] = (),
            edges_from: Profile | None = None, settings: ProfileSettings | None = None,
            check_divisions: bool = True) -> Profile:
    """The profile of a Dask DataFrame (see :func:`shiftguard.profile.profile_table` for
    ``edges_from`` and ``settings``, :class:`~shiftguard.profile.dask.DaskSource` for
    ``check_divisions`` and the errors)."""
    from shiftguard.profile._sources import profile_source

    if settings is None:
        settings = edges_from.settings if edges_from is not None else ProfileSettings()
    if edges_from is not None:
        kinds = {**edges_from.kinds, **(kinds or {})}
        columns = list(edges_from.names) if columns is None else columns
    source = DaskSource(frame, kinds=kinds, columns=columns, exclude=exclude,
                        label="data", check_divisions=check_divisions)
    return profile_source(source, settings, edges_from)


def compare(reference: Any, current: Any, **options: Any) -> DriftReport:
    """Compare two Dask DataFrames (either may also be a profile or in-memory data);
    ``options`` as in :func:`shiftguard.profile.compare.compare_profiles`, among them
    ``check_divisions`` (default ``True``: a frame with unknown divisions is refused with an
    :class:`~shiftguard.errors.InputError`; ``False`` accepts one whose partitions are
    known to be disjoint)."""
    from shiftguard.profile.compare import compare_profiles

    return compare_profiles(reference, current, **options)

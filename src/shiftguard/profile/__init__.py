"""Profiles for data larger than memory: mergeable summaries and tests on them.

- :func:`profile_table` summarises a table, a Parquet dataset (streamed) or -- through
  :mod:`shiftguard.dask` -- a Dask DataFrame into a :class:`Profile`;
- :func:`merge_profiles` combines profiles of disjoint parts;
- :func:`save_profile` / :func:`load_profile` write and read ``.sgprofile`` files
  (:mod:`shiftguard.profile.format`);
- :func:`shiftguard.compare` accepts a profile on either side
  (:mod:`shiftguard.profile.compare` states the guarantee).

Examples
--------
>>> import numpy as np
>>> from shiftguard.profile import profile_table, merge_profiles
>>> rng = np.random.default_rng(0)
>>> a, b = rng.normal(size=(300, 2)), rng.normal(size=(200, 2))
>>> merged = merge_profiles(profile_table(a), profile_table(b))
>>> merged.n_rows, merged.exact
(500, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shiftguard.profile.format import FORMAT_VERSION, load_profile, save_profile
from shiftguard.profile.profile import (
    CategoricalProfile,
    NumericProfile,
    OtherProfile,
    Profile,
    ProfileSettings,
    merge,
    merge_all,
)

merge_profiles = merge


def profile_table(
    source: Any, *, kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None, exclude: Sequence[str] = (),
    edges_from: Profile | None = None, settings: ProfileSettings | None = None,
    batch_size: int | None = None, progress: bool | None = None, label: str = "data",
) -> Profile:
    """Summarise ``source`` into a :class:`Profile`.

    Parameters
    ----------
    source
        Anything :func:`~shiftguard.io.read_table` reads (one batch in memory), a Parquet
        file, directory or glob (streamed batch by batch, column kinds fixed on the first
        batch, see :mod:`shiftguard.profile.stream`),
        or a Dask DataFrame (profiled per partition, see :mod:`shiftguard.dask`).
    kinds, columns, exclude, label
        As in :func:`~shiftguard.io.read_table`.
    edges_from
        A reference profile: numeric columns are binned against its edges (exact counts
        per bin), so that this profile can later be compared with it without the data.
        Without it, columns that end up sketched are binned against their own quantile
        edges, in a second pass over the data.
    settings
        Sketch parameters (:class:`ProfileSettings`); ``edges_from``'s when it is given.
    batch_size, progress
        Parquet streaming: rows per batch, and the progress bar (default: on a terminal).

    Returns
    -------
    Profile
    """
    from shiftguard.profile._sides import make_source
    from shiftguard.profile._sources import profile_source

    if settings is None:
        settings = edges_from.settings if edges_from is not None else ProfileSettings()
    if edges_from is not None:
        kinds = {**edges_from.kinds, **(kinds or {})}
        columns = list(edges_from.names) if columns is None else columns
    src = make_source(source, label, kinds, columns, exclude, batch_size, progress)
    return profile_source(src, settings, edges_from)


__all__ = [
    "FORMAT_VERSION",
    "CategoricalProfile",
    "NumericProfile",
    "OtherProfile",
    "Profile",
    "ProfileSettings",
    "load_profile",
    "merge_all",
    "merge_profiles",
    "profile_table",
    "save_profile",
]

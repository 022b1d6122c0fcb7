"""The two sides of a comparison: a profile, with the raw data behind it when there is
some (an in-memory table, a Parquet dataset, a Dask DataFrame) for the passes a profile
cannot answer alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shiftguard.errors import SchemaError
from shiftguard.io import read_table
from shiftguard.profile._sources import Source, TableSource, bin_columns, profile_source
from shiftguard.profile.format import load_profile
from shiftguard.profile.profile import (
    NumericProfile,
    Profile,
    ProfileSettings,
    bin_profile,
    column_bins,
    quantile_edges,
)


@dataclasses.dataclass
class Side:
    """One side's profile, and its raw data (``None`` when given as a profile)."""

    profile: Profile
    source: Source | None


def _is_dask(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr")


def _is_profile_file(obj: Any) -> bool:
    return isinstance(obj, (str, Path)) and str(obj).endswith(".sgprofile")


def uses_profiles(obj: Any) -> bool:
    """Whether :func:`shiftguard.compare` should compare ``obj`` through profiles: a
    :class:`Profile` or ``.sgprofile`` file, a Parquet directory or glob, a Dask frame."""
    return (isinstance(obj, Profile) or _is_profile_file(obj) or _is_dask(obj)
            or _dataset(obj))


def make_source(obj: Any, label: str, kinds: Mapping[str, str] | None,
                columns: Sequence[str] | None, exclude: Sequence[str],
                batch_size: int | None, progress: bool | None, *,
                check_divisions: bool = True) -> Source:
    """The raw data behind ``obj``: a Dask frame (``check_divisions`` as in
    :class:`~shiftguard.profile.dask.DaskSource`), a Parquet dataset or file (streamed),
    or an in-memory table read by :func:`~shiftguard.io.read_table`."""
    from shiftguard.profile import stream

    if _is_dask(obj):
        from shiftguard.profile.dask import DaskSource

        return DaskSource(obj, kinds=kinds, columns=columns, exclude=exclude, label=label,
                          check_divisions=check_divisions)
    if stream.is_dataset_path(obj) or stream.is_parquet_file(obj):
        return stream.DatasetSource(obj, kinds=kinds, columns=columns, exclude=exclude,
                                    batch_size=batch_size,
                                    progress=progress, label=label)
    return TableSource(read_table(obj, kinds=kinds, columns=columns, exclude=exclude,
                                  label=label))


def reference_side(obj: Any, settings: ProfileSettings, kinds: Any, columns: Any,
                   exclude: Any, batch_size: int | None, progress: bool | None, *,
                   check_divisions: bool = True) -> Side:
    """The reference: a profile as given (its selected columns), or data profiled with
    ``settings`` (sketched numeric columns binned against their own edges)."""
    if _is_profile_file(obj):
        obj = load_profile(obj)
    if isinstance(obj, Profile):
        return Side(_selected(obj, columns, exclude), None)
    source = make_source(obj, "reference", kinds, columns, exclude, batch_size, progress,
                         check_divisions=check_divisions)
    return Side(profile_source(source, settings), source)


def current_side(obj: Any, ref: Side, columns: Sequence[str] | None,
                 exclude: Sequence[str], batch_size: int | None,
                 progress: bool | None, *, check_divisions: bool = True) -> Side:
    """The current sample, with the reference's columns (as ``DriftDetector.compare``: the
    selection applies to the current sample too) and kinds."""
    ref_kinds = ref.profile.kinds
    if _is_profile_file(obj):
        obj = load_profile(obj)
    if isinstance(obj, Profile):
        obj = _selected(obj, [n for n in columns if n in obj.names] if columns else None,
                        exclude)
        if obj.kinds != ref_kinds:
            _schema_error(ref_kinds, obj.kinds)
        return Side(obj, None)
    if not (_is_dask(obj) or _dataset(obj) or _parquet_file(obj)):
        obj = read_table(obj, label="current")
        keep = ([n for n in columns if n in obj.names] if columns is not None
                else [n for n in obj.names if n not in set(exclude)])
        _check_names(ref_kinds, keep)
    source = make_source(obj, "current", ref_kinds, list(ref_kinds), (), batch_size, progress,
                         check_divisions=check_divisions)
    return Side(profile_source(source, ref.profile.settings, edges_from=ref.profile), source)


def _selected(profile: Profile, columns: Sequence[str] | None,
              exclude: Sequence[str]) -> Profile:
    """The profile's columns named in ``columns`` (all by default) less ``exclude``."""
    present = profile.names
    names = list(columns) if columns is not None else list(present)
    unknown = [n for n in [*names, *exclude] if n not in present]
    if unknown:
        raise SchemaError(f"the profile has no column(s) {', '.join(map(repr, unknown))}")
    keep = [profile[n] for n in names if n not in set(exclude)]
    return dataclasses.replace(profile, columns=tuple(keep))


def _dataset(obj: Any) -> bool:
    from shiftguard.profile.stream import is_dataset_path

    return is_dataset_path(obj)


def _parquet_file(obj: Any) -> bool:
    from shiftguard.profile.stream import is_parquet_file

    return is_parquet_file(obj)


def _check_names(ref_kinds: Mapping[str, str], names: Sequence[str]) -> None:
    missing = [n for n in ref_kinds if n not in names]
    extra = [n for n in names if n not in ref_kinds]
    if missing:
        raise SchemaError(f"current lacks reference column(s) {', '.join(map(repr, missing))}")
    if extra:
        raise SchemaError(f"current has column(s) not in the reference: "
                          f"{', '.join(map(repr, extra))} (select columns or exclude them)")


def _schema_error(ref: Mapping[str, str], cur: Mapping[str, str]) -> None:
    _check_names(ref, list(cur))
    name = next(n for n in ref if ref[n] != cur[n])
    raise SchemaError(f"is {ref[name]} in the reference profile but {cur[name]} in the "
                      "current one", name)


def bin_missing(ref: Side, cur: Side, names: Sequence[str]) -> None:
    """Count a side's bins in one pass over its data where its profile lacks them."""
    for side in (ref, cur):
        if side.source is None:
            continue
        edges = {}
        for name in names:
            r, c = ref.profile[name], side.profile[name]
            if isinstance(r, NumericProfile) and r.count and c.count:
                e = quantile_edges(r, ref.profile.settings.n_bins)
                if column_bins(c, e) is None:
                    edges[name] = e
        if edges:
            side.profile = bin_profile(side.profile, edges, bin_columns(side.source, edges))

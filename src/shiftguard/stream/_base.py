"""Plumbing every streaming detector shares: input checks, batching and JSON state.

A detector keeps its whole state in a few NumPy arrays (``self._state``) that one numba
kernel advances over a batch. By default ``update(x)`` feeds that kernel a batch of one
value, but a numba call from Python costs about a microsecond, several times a light
detector's own work. So the light detectors (ADWIN, Page–Hinkley, DDM, EDDM, HDDM-A/W)
derive from :class:`NativeDetector`, whose ``update`` is compiled (``_native.c``): it
checks the value, buffers it and hands the buffer to the detector's own kernel through a C
function pointer (a numba ``cfunc``) at the next value that can alarm -- every value for
most, every ``clock`` values for ADWIN -- with no Python dispatch. ``update_many`` runs the
same kernel on the whole batch, so both paths do the same arithmetic: in any interleaving
they give the same alarms and the same JSON state (``tests/stream/test_detectors.py``).
After an alarm every detector starts afresh from the next value (river's convention), so
the alarms of a long stream are the alarms of consecutive independent runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np

from shiftguard._validation import as_stream_value, as_stream_values, check_state_header
from shiftguard.errors import StateError

try:
    from shiftguard.stream._native import NativeUpdate
except ImportError as exc:  # an install that skipped the build step
    raise ImportError(
        "shiftguard.stream needs its compiled part (src/shiftguard/stream/_native.c), which "
        "is built when the package is installed: reinstall with a C compiler and Python's "
        "headers present (e.g. `pip install -e .`)"
    ) from exc

STATE_VERSION = 1

#: Finite stand-in for an infinite running minimum or maximum, so that states stay plain JSON.
BIG = float(np.finfo(np.float64).max)

_REGISTRY: dict[str, type[StreamDetector]] = {}


class StreamDetector:
    """Shared behaviour of the detectors in :mod:`shiftguard.stream`.

    Subclasses set ``_support`` (``"real"``, ``"unit"`` or ``"binary"``), list their
    constructor arguments in ``_params`` and implement ``_initial_state`` (a dict of
    arrays) and ``_process(xs, alarms) -> n_alarms``.
    """

    _support: ClassVar[str] = "real"
    _params: ClassVar[tuple[str, ...]] = ()
    #: State arrays whose length may change while streaming (checked for dtype only).
    _growing_state: ClassVar[frozenset[str]] = frozenset()

    drift_detected: bool
    #: values fed, as far as ``_state`` knows (see ``_sync``)
    _n_seen: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def reset(self) -> None:
        """Forget everything seen so far; the detector is as freshly constructed."""
        self._state = self._initial_state()
        self.drift_detected = False
        self._n_seen = 0
        # one-value batch and alarm buffers, reused by every update(): no allocation per value
        self._single = (np.empty(1), np.empty(1, dtype=np.int64))
        self._load()

    @property
    def n_seen(self) -> int:
        """Number of values fed since construction or the last :meth:`reset`."""
        self._sync()
        return self._n_seen

    def update(self, x: float) -> Self:
        """Feed one value; afterwards ``drift_detected`` tells whether it raised an alarm."""
        value, alarm = self._single
        value[0] = as_stream_value(x, "x", self._support)
        self._advance(value, alarm)
        return self

    def update_many(self, xs: Any) -> np.ndarray:
        """Feed a batch of values in order.

        Returns
        -------
        numpy.ndarray
            Positions in ``xs`` (int64, increasing) at which an alarm fired: exactly the
            values after which ``drift_detected`` would be ``True`` had they been fed one
            by one with :meth:`update`.
        """
        xs = as_stream_values(xs, "xs", self._support)
        alarms = np.empty(xs.size, dtype=np.int64)
        self._sync()
        n_alarms = self._advance(xs, alarms)
        self._load()
        return alarms[:n_alarms].copy()

    def _advance(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        """Run the kernel over ``xs``, alarm positions into ``alarms``; returns their number."""
        n_alarms = int(self._process(xs, alarms))
        if xs.size:
            self.drift_detected = bool(n_alarms) and int(alarms[n_alarms - 1]) == xs.size - 1
        self._n_seen += int(xs.size)
        return n_alarms

    def _sync(self) -> None:
        """Write what the per-value path holds into ``_state`` and ``_n_seen``."""

    def _load(self) -> None:
        """Set the per-value path up from ``_state``, ``_n_seen`` and ``drift_detected``."""

    def _initial_state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        raise NotImplementedError

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, as given."""
        return {name: getattr(self, name) for name in self._params}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready state; :meth:`from_dict` continues the stream identically."""
        self._sync()
        return {
            "detector": type(self).__name__,
            "version": STATE_VERSION,
            "params": self.get_params(),
            "state": {k: v.tolist() for k, v in self._state.items()},
            "drift_detected": self.drift_detected,
            "n_seen": self._n_seen,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> StreamDetector:
        """Rebuild a detector from :meth:`to_dict` output.

        Raises :class:`~shiftguard.errors.StateError` when ``state`` is for another
        detector or version, or its arrays have the wrong shape or non-finite values.
        """
        check_state_header(state, cls.__name__, STATE_VERSION)
        try:
            detector = cls(**state["params"])
            saved = state["state"]
            restored = {}
            for name, fresh in detector._state.items():
                arr = np.array(saved[name], dtype=fresh.dtype)
                fixed = name not in cls._growing_state
                if (fixed and arr.shape != fresh.shape) or arr.ndim != fresh.ndim:
                    raise StateError(f"state {name!r} has shape {arr.shape}, not {fresh.shape}")
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise StateError(f"state {name!r} holds non-finite values")
                restored[name] = arr
            if set(saved) != set(restored):
                raise StateError(f"state fields {sorted(saved)} != {sorted(restored)}")
            detector._state = restored
            detector.drift_detected = bool(state["drift_detected"])
            detector._n_seen = int(state["n_seen"])
            detector._load()
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"malformed {cls.__name__} state: {exc!r}") from None
        return detector

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy go through the JSON state, which holds everything
        return detector_from_dict, (self.to_dict(),)


class NativeDetector(NativeUpdate, StreamDetector):
    """A detector whose ``update`` is compiled (``_native.c``).

    ``update`` checks the value (Python floats and bools inline; anything else, and any
    value outside the support, through :func:`scalar_value`), appends it to a buffer and,
    once the buffer reaches the next value at which the detector can alarm, runs the
    detector's kernel on it through a C function pointer. Subclasses give ``_kernel``, a
    plain function of the signature of :func:`_kernel_signature` wrapping their numba kernel
    (compiled once as a cached ``cfunc``), and ``_native_binding``: the three state arrays
    and the float64 parameter array it receives, the buffer size, and how many values
    until the next possible alarm.
    """

    _kernel: ClassVar[Callable[..., int]]

    def _native_binding(self) -> tuple[tuple[np.ndarray, ...], int, int]:
        raise NotImplementedError

    def _sync(self) -> None:
        # values handed to the kernel, then those still buffered (short of an alarm point)
        self._n_seen += self._processed
        self._processed = 0
        pending = self._take_pending()
        if pending:
            xs = np.frombuffer(pending, dtype=np.float64)
            self._advance(xs, np.empty(xs.size, dtype=np.int64))
            self._load()

    def _load(self) -> None:
        arrays, capacity, act_at = self._native_binding()
        self._bind(_kernel_address(type(self)._kernel), *arrays, capacity, act_at,
                   _SUPPORT_CODES[self._support], scalar_value, self._support)


#: ``_native.c``'s codes of the supports
_SUPPORT_CODES = {"real": 0, "unit": 1, "binary": 2}


def _kernel_signature() -> Any:
    """C signature of a :class:`NativeDetector` kernel: ``(xs, n, state0, state1, state2,
    params, alarms) -> number of alarms``, the state arrays as untyped pointers."""
    from numba import types

    return types.int64(types.CPointer(types.float64), types.int64, types.voidptr,
                       types.voidptr, types.voidptr, types.CPointer(types.float64),
                       types.CPointer(types.int64))


@functools.cache
def _compiled_kernel(kernel: Callable[..., int]) -> Any:
    from numba import cfunc

    return cfunc(_kernel_signature(), cache=True)(kernel)


def _kernel_address(kernel: Callable[..., int]) -> int:
    """Address of ``kernel`` compiled as a C function (kept alive by the cache)."""
    return _compiled_kernel(kernel).address


def scalar_value(x: Any, support: str) -> float:
    """One value for a per-value ``update`` whose inline check (plain floats) did not pass.

    Converts ints, bools and NumPy scalars; raises
    :class:`~shiftguard.errors.InputError` for anything not in ``support``.
    """
    if type(x) is bool:  # e.g. ``y_pred != y_true``, common for error streams
        return 1.0 if x else 0.0
    return as_stream_value(x, "x", support)


def detector_from_dict(state: dict[str, Any]) -> StreamDetector:
    """Rebuild any :mod:`shiftguard.stream` detector from its ``to_dict()`` output.

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> from shiftguard.stream import DDM, detector_from_dict
    >>> errors = (np.random.default_rng(0).random(4000) < np.r_[[0.1] * 2000, [0.3] * 2000])
    >>> before = DDM()
    >>> first = before.update_many(errors[:2500])
    >>> saved = json.dumps(before.to_dict())          # e.g. written to disk, process restarts
    >>> after = detector_from_dict(json.loads(saved))
    >>> rest = after.update_many(errors[2500:]) + 2500
    >>> np.r_[first, rest].tolist() == DDM().update_many(errors).tolist()
    True
    """
    name = state.get("detector") if isinstance(state, dict) else None
    if name not in _REGISTRY:
        raise StateError(f"unknown detector {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name].from_dict(state)

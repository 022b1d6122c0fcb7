"""Sequential monitoring: streaming change detectors and anytime-valid tests.

Every detector is a small object: ``update(x)`` then read ``drift_detected``;
``update_many(xs)`` feeds a batch and returns the positions where alarms fired (the same
alarms as one-by-one updates); ``reset()``; ``to_dict()`` / ``from_dict()`` (or
:func:`detector_from_dict`) save and restore the exact state. After an alarm a detector
starts afresh from the next value.

Classical detectors (per-test or heuristic guarantees, stated in each docstring):
:class:`ADWIN`, :class:`DDM`, :class:`EDDM`, :class:`HDDMA`, :class:`HDDMW`,
:class:`PageHinkley`, :class:`CUSUM`, :class:`KSWIN`, :class:`GaussianSPRT`,
:class:`BernoulliSPRT`. Anytime-valid tests (P(any false alarm ever) <= alpha):
:class:`MixtureSPRT`, :class:`BettingConfidenceSequence`,
:class:`SequentialTwoSampleTest`. Batches of tables: :class:`Monitor` (per-feature drift
tests, alpha spent across batches so that P(any false alarm over the run) <= alpha).
"""

from shiftguard.stream._base import StreamDetector, detector_from_dict
from shiftguard.stream.adwin import ADWIN
from shiftguard.stream.anytime import (
    BettingConfidenceSequence,
    MixtureSPRT,
    SequentialTwoSampleTest,
)
from shiftguard.stream.cusum import CUSUM, cusum_average_run_length
from shiftguard.stream.ddm import DDM
from shiftguard.stream.eddm import EDDM
from shiftguard.stream.hddm import HDDMA, HDDMW
from shiftguard.stream.kswin import KSWIN
from shiftguard.stream.monitor import Monitor, MonitorStep
from shiftguard.stream.page_hinkley import PageHinkley
from shiftguard.stream.sprt import BernoulliSPRT, GaussianSPRT

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "EDDM",
    "HDDMA",
    "HDDMW",
    "KSWIN",
    "BernoulliSPRT",
    "BettingConfidenceSequence",
    "GaussianSPRT",
    "MixtureSPRT",
    "Monitor",
    "MonitorStep",
    "PageHinkley",
    "SequentialTwoSampleTest",
    "StreamDetector",
    "cusum_average_run_length",
    "detector_from_dict",
]

"""Sequential monitoring: streaming change detectors and anytime-valid tests."""

from shiftguard.stream._base import StreamDetector, detector_from_dict
from shiftguard.stream.adwin import ADWIN
from shiftguard.stream.cusum import CUSUM, cusum_average_run_length
from shiftguard.stream.ddm import DDM
from shiftguard.stream.eddm import EDDM
from shiftguard.stream.hddm import HDDMA, HDDMW
from shiftguard.stream.page_hinkley import PageHinkley

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "EDDM",
    "HDDMA",
    "HDDMW",
    "PageHinkley",
    "StreamDetector",
    "cusum_average_run_length",
    "detector_from_dict",
]

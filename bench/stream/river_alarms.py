"""Record river's alarms on the streams of ``RIVER_CASES`` in tests/stream/test_detectors.py.

river is no project dependency, so the tests compare with alarm positions recorded here,
with river 0.26.1 in its own venv (the one bench_stream.py makes). Prints the
``RIVER_ALARMS`` literal to paste into the test file.

    .venv/bin/python bench/stream/river_alarms.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"


def river_side() -> None:
    """In river's venv: read ``[[label, constructor, path], ...]`` on stdin, print alarms."""
    import numpy as np
    from river import drift  # noqa: F401  (the constructors name these modules)
    from river.drift import binary  # noqa: F401

    alarms = {}
    for label, constructor, path in json.load(sys.stdin):
        detector = eval(constructor)  # a constructor call written in the test file
        found = []
        for i, x in enumerate(np.load(path).tolist()):
            detector.update(x)
            if detector.drift_detected:
                found.append(i)
        alarms[label] = found
    print(json.dumps(alarms))


def main() -> None:
    import numpy as np

    sys.path[:0] = [str(ROOT / "tests" / "stream"), str(Path(__file__).parent)]
    from bench_stream import ensure_venv
    from test_detectors import RIVER_CASES

    OUT.mkdir(parents=True, exist_ok=True)
    requests = []
    for label, (_, constructor, make, seed) in RIVER_CASES.items():
        path = OUT / f"river_case_{label}.npy"
        np.save(path, make(seed))
        requests.append([label, constructor, str(path)])
    answer = subprocess.run(
        [str(ensure_venv("river")), __file__, "--river-side"], input=json.dumps(requests),
        capture_output=True, text=True, check=True,
    )
    print("RIVER_ALARMS = {")
    for label, found in json.loads(answer.stdout).items():
        print(f"    {json.dumps(label)}: {found},")
    print("}")


if __name__ == "__main__":
    river_side() if sys.argv[1:] == ["--river-side"] else main()

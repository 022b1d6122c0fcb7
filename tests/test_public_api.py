import subprocess
import sys

import shiftguard


def test_every_exported_name_resolves():
    for name in shiftguard.__all__:
        assert getattr(shiftguard, name) is not None, name


def test_import_is_light():
    heavy = "('sklearn', 'pandas', 'numba', 'scipy')"
    code = f"import sys, shiftguard; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Create each peer library's virtualenv under ``bench/.venvs/<peer>/`` when missing.

Peers are never project dependencies: each gets its own venv with pins that work
together on Python 3.11.  torch is installed first, alone, as exactly ``torch==2.13.0``
(the CPU wheel on this machine's disk), so that installing alibi-detect afterwards
finds it satisfied and never pulls a CUDA build.

Run directly to build all venvs: ``python3 bench/drift/peer_envs.py [peer ...]``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENVS_DIR = Path(__file__).resolve().parents[1] / ".venvs"

# Each step is one ``pip install`` invocation, run in order.
PEER_INSTALL_STEPS: dict[str, list[list[str]]] = {
    "alibi": [
        ["torch==2.13.0"],
        ["alibi-detect==0.13.0", "numpy<2", "scipy<1.15", "torch==2.13.0"],
    ],
    "frouros": [["frouros==0.9.0", "numpy<2", "scipy<1.15"]],
    "evidently": [["evidently>=0.7,<0.8", "pandas<3"]],
    # nannyml imports statsmodels without declaring it, and breaks under pandas 3.
    "nannyml": [["nannyml==0.13.1", "pandas<3", "statsmodels"]],
}


def venv_python(peer: str) -> Path:
    return VENVS_DIR / peer / "bin" / "python"


def ensure_venv(peer: str) -> Path:
    """Return the peer venv's python, creating and installing the venv if missing."""
    python = venv_python(peer)
    marker = VENVS_DIR / peer / ".installed"
    if marker.exists():
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENVS_DIR / peer)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    for requirements in PEER_INSTALL_STEPS[peer]:
        subprocess.run([str(python), "-m", "pip", "install", *requirements], check=True)
    marker.write_text("\n".join(" ".join(step) for step in PEER_INSTALL_STEPS[peer]) + "\n")
    return python


if __name__ == "__main__":
    for name in sys.argv[1:] or list(PEER_INSTALL_STEPS):
        print(name, ensure_venv(name), flush=True)

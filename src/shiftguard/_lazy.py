"""Names of a package imported from their modules on first use (PEP 562).

A package that re-exports from many modules would otherwise import them all, and with
them numba, SciPy or scikit-learn, whenever any one name is needed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``name`` is imported from the
    module ``where[name]`` (a full dotted name) when first asked for, then kept."""

    def __getattr__(name: str) -> Any:  # noqa: N807 -- the module hook's own name
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted([*vars(sys.modules[package]), *where])

    return __getattr__, __dir__

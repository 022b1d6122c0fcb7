"""The one compiled part: the stream detectors' per-value update (the rest is pyproject.toml)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("shiftguard.stream._native", ["src/shiftguard/stream/_native.c"])])

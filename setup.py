"""mukaika's compiled modules: the OpenType Sanitizer (third_party/ots) as ``sanitizers._ots``,
and Type 1 decryption as ``sanitizers.pdf._eexec``. Everything else is in pyproject.toml."""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import Extension, setup

OTS = Path("third_party/ots")

ots = Extension(
    "sanitizers._ots",
    sources=["sanitizers/_ots.cc", *sorted(str(source) for source in (OTS / "src").glob("*.cc"))],
    include_dirs=[str(OTS), str(OTS / "include"), str(OTS / "src")],
    libraries=["z"],
    language="c++",
    extra_compile_args=["-std=c++11", "-O2", "-w"],
)

eexec = Extension("sanitizers.pdf._eexec", sources=["sanitizers/pdf/_eexec.c"], extra_compile_args=["-O2"])

setup(ext_modules=[ots, eexec], options={"build_ext": {"parallel": os.cpu_count() or 1}})

"""migrator: plans Exchange 2010 -> 2016/2019/SE (and hybrid) migrations.

The library is the product; the ``migrator`` command is a thin layer over it.
The pipeline runs load -> model -> check -> plan -> render.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

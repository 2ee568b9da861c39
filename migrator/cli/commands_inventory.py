"""``migrator check``, ``migrator plan`` and ``migrator inventory show``."""

from __future__ import annotations

"""The one way migrator compiles a loop with numba (the log kernel, the wave planner's kernels).

``cache=True`` keeps the machine code beside the module after the first call.
Where no cache folder is writable (an installed package read by another user,
no home folder) numba refuses ``cache=True`` at decoration time: the loop is
then compiled on each run instead (about a second per kernel), never a failed
command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def jit(fn: F) -> F:
    """``fn`` compiled in nopython mode, cached where a cache folder is writable."""
    try:
        return cast(F, numba.njit(cache=True, nogil=True, boundscheck=False)(fn))
    except RuntimeError:
        return cast(F, numba.njit(cache=False, nogil=True, boundscheck=False)(fn))


def jit_as(signature: str) -> Callable[[F], F]:
    """Like :func:`jit`, compiled once for ``signature`` only.

    A helper called from compiled code with constant arguments would otherwise be
    compiled again for each constant (numba specialises on literal values): one
    signature keeps the first-run compile pause down.
    """

    def wrap(fn: F) -> F:
        try:
            return cast(F, numba.njit(signature, cache=True, nogil=True, boundscheck=False)(fn))
        except RuntimeError:
            return cast(F, numba.njit(signature, cache=False, nogil=True, boundscheck=False)(fn))

    return wrap

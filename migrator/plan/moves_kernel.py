"""Compiled loops of the wave planner: connected components and the split of a large component.

Both work on integer arrays (mailbox numbers, a CSR adjacency), never on
Python objects, so 300,000 mailboxes with a million links cost no per-link
object and nothing for the garbage collector to walk. Compiled with numba
(``cache=True``: the machine code is kept beside this file after the first
call, or compiled on each run where no cache folder is writable), like
:mod:`migrator.logs.kernel`.
"""

from __future__ import annotations

import heapq

import numpy as np
import numpy.typing as npt

from migrator.jit import jit

I64 = npt.NDArray[np.int64]
B1 = npt.NDArray[np.bool_]

_GAIN_TOP = 1 << 30
"""Heap keys are ``(_GAIN_TOP - gain) << 32 | mailbox``: most links first, then the lowest number."""
_LOW = (1 << 32) - 1


_jit = jit


@_jit
def _root(parent: I64, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@_jit
def components(n: int, a: I64, b: I64, active: B1) -> I64:
    """Component of every mailbox over the links ``a[k] - b[k]`` between active mailboxes.

    The component is named by its lowest mailbox number (inactive mailboxes: their own).
    """
    parent = np.arange(n, dtype=np.int64)
    for k in range(a.shape[0]):
        i = a[k]
        j = b[k]
        if not (active[i] and active[j]):
            continue
        ri = _root(parent, i)
        rj = _root(parent, j)
        if ri < rj:
            parent[rj] = ri
        elif rj < ri:
            parent[ri] = rj
    for i in range(n):
        parent[i] = _root(parent, i)
    return parent


@_jit
def split_group(
    group: I64,
    indptr: I64,
    indices: I64,
    sizes: I64,
    src: I64,
    db: I64,
    n_src: int,
    n_db: int,
    max_mailboxes: int,
    max_bytes: int,
    max_src: int,
    max_db: int,
) -> tuple[I64, I64]:
    """Cut a component into pieces that each fit an empty wave, cutting few links.

    Greedy graph growing: a piece starts at the lowest mailbox number left and
    takes, one at a time, the mailbox with the most links into the piece (a
    heap with lazy updates), skipping one a cap refuses; when the piece's
    neighbourhood is used up it goes on from the next mailbox left. Dense teams
    therefore end up whole in one piece and the cuts fall on the few links
    between them. O(links log links).

    Returns the mailboxes in piece order and the start of each piece in it.
    ``src`` and ``db`` are codes (``db`` -1: none); ``indptr``/``indices`` the
    adjacency of every mailbox (neighbours outside ``group`` are ignored).
    """
    n = indptr.shape[0] - 1
    remaining = np.zeros(n, dtype=np.bool_)
    refused = np.zeros(n, dtype=np.bool_)
    gain = np.full(n, -1, dtype=np.int64)
    src_count = np.zeros(max(n_src, 1), dtype=np.int64)
    db_count = np.zeros(max(n_db, 1), dtype=np.int64)
    order = np.empty(group.shape[0], dtype=np.int64)
    starts = np.empty(group.shape[0] + 1, dtype=np.int64)
    seeds = [np.int64(0)]
    seeds.pop()
    for i in group:
        remaining[i] = True
        seeds.append(np.int64(i))
    heapq.heapify(seeds)
    left = group.shape[0]
    pos = 0
    n_pieces = 0
    while left > 0:
        start = pos
        count = 0
        total = 0
        n_refused = 0
        touched = [np.int64(0)]
        touched.pop()
        refused_list = [np.int64(0)]
        refused_list.pop()
        heap = [np.int64(0)]
        heap.pop()
        while count < max_mailboxes:
            if len(heap) == 0:
                seed = np.int64(-1)
                while len(seeds) > 0:
                    cand = heapq.heappop(seeds)
                    if remaining[cand] and not refused[cand]:
                        seed = cand
                        break
                if seed < 0:
                    break
                if gain[seed] < 0:
                    touched.append(np.int64(seed))
                gain[seed] = 0
                heap.append(np.int64((_GAIN_TOP << 32) | seed))
            key = heapq.heappop(heap)
            i = key & _LOW
            g = _GAIN_TOP - (key >> 32)
            if not remaining[i] or refused[i] or g != gain[i]:
                continue
            s = src[i]
            d = db[i]
            if count > 0 and (
                total + sizes[i] > max_bytes
                or src_count[s] + 1 > max_src
                or (d >= 0 and db_count[d] + 1 > max_db)
            ):
                refused[i] = True
                refused_list.append(np.int64(i))
                n_refused += 1
                if n_refused > 4 * max_mailboxes:
                    break
                continue
            order[pos] = i
            pos += 1
            remaining[i] = False
            left -= 1
            count += 1
            total += sizes[i]
            src_count[s] += 1
            if d >= 0:
                db_count[d] += 1
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                if remaining[j] and not refused[j]:
                    if gain[j] < 0:
                        gain[j] = 0
                        touched.append(np.int64(j))
                    gain[j] += 1
                    heapq.heappush(heap, np.int64(((_GAIN_TOP - gain[j]) << 32) | j))
        for i in refused_list:
            refused[i] = False
            if remaining[i]:
                heapq.heappush(seeds, i)  # another piece takes it
        for i in touched:
            gain[i] = -1
        for k in range(start, pos):
            src_count[src[order[k]]] = 0
            if db[order[k]] >= 0:
                db_count[db[order[k]]] = 0
        if pos > start:
            starts[n_pieces] = start
            n_pieces += 1
    starts[n_pieces] = pos
    return order, starts[: n_pieces + 1]

"""Compiled inner loops of the iterative demeaning (numba), imported only when needed.

One projection ``column -= P_k column`` of :class:`reexport.models.fe._Projections`
is two passes over the rows: weighted group sums, then the group means taken
off every row.  With NumPy the two passes go through a sparse product, a
temporary of group means, a gather and a subtraction, each a separate sweep
over memory; these kernels fuse them, reading each row's code, weight and
value once per pass and allocating nothing.

The arithmetic is the NumPy path's, in the same order (sums accumulated row
by row, multiplied by the inverse total weight, subtracted), so both paths
give the same bits; ``tests/test_fe.py`` checks it.  The kernels release the
GIL, so the demeaning's column threads run them in parallel.  Compiled code
is cached on disk (``cache=True``): the first process pays about a second of
compilation, later ones load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def remove_means(
    column: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray,
    inverse: np.ndarray,
    means: np.ndarray,
) -> float:
    """``column -= (weighted group means of column)[codes]`` in place; the largest |mean|.

    Parameters
    ----------
    column : float64 array of n
        Modified in place.
    codes : intp array of n
        Level of every row (``0..G-1``).
    weights : float64 array of n
        Row weights (ones when unweighted).
    inverse : float64 array of G
        ``1 / total weight`` of every level (0 for a level without weight).
    means : float64 array of G
        Scratch space, overwritten (one per thread).
    """
    means[:] = 0.0
    for i in range(column.shape[0]):
        means[codes[i]] += weights[i] * column[i]
    largest = 0.0
    for g in range(means.shape[0]):
        means[g] *= inverse[g]
        size = abs(means[g])
        # A NaN sticks (``size != size``), as in numpy's max: never taken for convergence.
        if size > largest or size != size:
            largest = size
    for i in range(column.shape[0]):
        column[i] -= means[codes[i]]
    return largest


@njit(cache=True, nogil=True)
def remove_sorted_means(
    column: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    inverse: np.ndarray,
    means: np.ndarray,
) -> float:
    """As :func:`remove_means` for rows sorted by level (``counts`` rows per level, in order)."""
    start = 0
    largest = 0.0
    for g in range(counts.shape[0]):
        stop = start + counts[g]
        total = 0.0
        for i in range(start, stop):
            total += weights[i] * column[i]
        mean = total * inverse[g]
        means[g] = mean
        if abs(mean) > largest or mean != mean:
            largest = abs(mean)
        for i in range(start, stop):
            column[i] -= mean
        start = stop
    return largest

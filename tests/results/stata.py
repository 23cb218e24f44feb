"""Container for one Stata reference result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StataReference:
    """One Stata estimation: the command line and its reported numbers.

    ``cov`` is the full coefficient covariance ``e(V)`` in row-major order.
    """

    cmdline: str
    params: list[float]
    std_errors: list[float]
    tstats: list[float]
    pvalues: list[float]
    ci_lower: list[float]
    ci_upper: list[float]
    df: int | None
    cov: list[float]

    @property
    def cov_matrix(self) -> np.ndarray:
        k = len(self.params)
        return np.asarray(self.cov, dtype=float).reshape(k, k)

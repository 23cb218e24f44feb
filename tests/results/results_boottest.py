"""Published ``boottest`` output: wild cluster bootstrap tests on boottest's example data.

Source: the log of boottest's own example and unit-test run, ``unit tests.log`` in
github:droodman/boottest (David Roodman's Stata package; Roodman, MacKinnon, Nielsen
& Webb 2019, "Fast and wild: Bootstrap inference in Stata using boottest", *Stata
Journal* 19(1)).  It is Stata output, printed by boottest itself, for the commands in
``test/unit tests.do``.  That do-file runs every command twice,
``foreach julia in "" julia``: the first pass computes in boottest's Mata code, the
second passes the same problem to WildBootTests.jl through boottest's ``julia``
option.  Both passes are boottest output and are kept apart here (``engine``).

Data: ``tests/data/boottest_collapsed.csv`` (see its PROVENANCE file), which is
``test/collapsed.dta`` of the same repository, the data of boottest's help-file example
``regress hasinsurance selfemployed post post_self, cluster(year)``; 16
observations, 8 clusters (years).

Two log versions are used:

* commit ``13473f8e5e76662b5038899017b95b47626f8c05`` (5 Jun 2026; boottest.ado
  4.5.3 of 5 June 2026 at that commit), the newest log;
* commit ``b9dad85`` (27 Jul 2025; boottest.ado 4.5.2 of 25 July 2025), kept because
  its Mata pass prints different Rademacher results on the same data
  (p = 0.0703 instead of 0.0742, another lower bound for ``post``). The difference is
  one of the two exactly tied draws; see ``tests/test_bootstrap_published.py``.

All numbers are as printed: ``t`` to 4 decimals, p-values to 4 decimals,
confidence-set bounds in boottest's default ``%6.0g`` format (4 significant digits).
With 8 clusters and ``reps(999)`` boottest enumerates all ``2^8 = 256`` Rademacher sign
vectors ("Sampling each once"), so those results have no Monte Carlo error. The Webb
result used 9,999,999 random draws.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The estimation command every reference below follows.
REGRESS = "regress hasinsurance selfemployed post post_self, cluster(year)"
LOG = "github:droodman/boottest, file 'unit tests.log'"
COMMIT_2026 = "13473f8e5e76662b5038899017b95b47626f8c05"
COMMIT_2025 = "b9dad85"


@dataclass(frozen=True)
class BoottestReference:
    """One ``boottest`` result as printed in the log.

    Attributes
    ----------
    cmdline
        The Stata commands, estimation first (``qui`` and ```julia'`` as in the do-file).
    source
        Log file and commit it is copied from.
    engine
        ``"mata"`` (boottest's own code) or ``"julia"`` (WildBootTests.jl via ``julia``).
    term, null
        The hypothesis ``term = null``.
    weights
        ``"rademacher"`` or ``"webb"``.
    reps
        Replications boottest reports having run (256 = the full enumeration).
    t
        The printed ``t(7)`` statistic.
    pvalue
        The printed symmetric ``Prob>|t|``.
    ci
        The printed 95% confidence set ``[lower, upper]``; ``None`` with ``noci``.
    """

    cmdline: str
    source: str
    engine: str
    term: str
    null: float
    weights: str
    reps: int
    t: float
    pvalue: float
    ci: tuple[float, float] | None


#: boottest post_self=.04, nogr  (2026 log, p-value on line 243)
MATA_2026_POST_SELF = BoottestReference(
    cmdline=f"{REGRESS}\nboottest post_self=.04, nogr",
    source=f"{LOG} at {COMMIT_2026}",
    engine="mata",
    term="post_self",
    null=0.04,
    weights="rademacher",
    reps=256,
    t=2.0194,
    pvalue=0.0742,
    ci=(0.03874, 0.07098),
)

#: boottest {post_self=.04} {post}, nogr  -- the second hypothesis (2026 log, lines 297-307)
MATA_2026_POST = BoottestReference(
    cmdline=f"{REGRESS}\nboottest {{post_self=.04}} {{post}}, nogr",
    source=f"{LOG} at {COMMIT_2026}",
    engine="mata",
    term="post",
    null=0.0,
    weights="rademacher",
    reps=256,
    t=-5.5821,
    pvalue=0.0000,
    ci=(-0.02978, -0.01306),
)

#: boottest post_self=.04, julia nogr  (second pass of the loop; 2026 log, line 1443)
JULIA_2026_POST_SELF = BoottestReference(
    cmdline=f"{REGRESS}\nboottest post_self=.04, julia nogr",
    source=f"{LOG} at {COMMIT_2026}",
    engine="julia",
    term="post_self",
    null=0.04,
    weights="rademacher",
    reps=256,
    t=2.0194,
    pvalue=0.0703,
    ci=(0.03815, 0.07148),
)

#: boottest {post_self=.04} {post}, julia nogr  -- the second hypothesis (2026 log, line 1507)
JULIA_2026_POST = BoottestReference(
    cmdline=f"{REGRESS}\nboottest {{post_self=.04}} {{post}}, julia nogr",
    source=f"{LOG} at {COMMIT_2026}",
    engine="julia",
    term="post",
    null=0.0,
    weights="rademacher",
    reps=256,
    t=-5.5821,
    pvalue=0.0000,
    ci=(-0.02955, -0.0129),
)

#: boottest post_self=.04, nogr  (boottest 4.5.2, Mata; 2025 log, line 244)
MATA_2025_POST_SELF = BoottestReference(
    cmdline=f"{REGRESS}\nboottest post_self=.04, nogr",
    source=f"{LOG} at {COMMIT_2025}",
    engine="mata",
    term="post_self",
    null=0.04,
    weights="rademacher",
    reps=256,
    t=2.0194,
    pvalue=0.0703,
    ci=(0.03874, 0.07098),
)

#: boottest {post_self=.04} {post}, nogr  (4.5.2, Mata; 2025 log, line 308) -- second hypothesis
MATA_2025_POST = BoottestReference(
    cmdline=f"{REGRESS}\nboottest {{post_self=.04}} {{post}}, nogr",
    source=f"{LOG} at {COMMIT_2025}",
    engine="mata",
    term="post",
    null=0.0,
    weights="rademacher",
    reps=256,
    t=-5.5821,
    pvalue=0.0000,
    ci=(-0.02928, -0.01306),
)

#: boottest {post_self=.04} {post}, julia nogr  (4.5.2; 2025 log, line 1512) -- second hypothesis
JULIA_2025_POST = BoottestReference(
    cmdline=f"{REGRESS}\nboottest {{post_self=.04}} {{post}}, julia nogr",
    source=f"{LOG} at {COMMIT_2025}",
    engine="julia",
    term="post",
    null=0.0,
    weights="rademacher",
    reps=256,
    t=-5.5821,
    pvalue=0.0000,
    ci=(-0.02943, -0.0129),
)

#: qui regress ..., cluster(year)
#: boottest post_self=.04, weight(webb) reps(9999999) noci  (2026 log, lines 979 and 2177:
#: both engines print 0.0757)
MATA_2026_WEBB = BoottestReference(
    cmdline=f"{REGRESS}\nboottest post_self=.04, weight(webb) reps(9999999) noci",
    source=f"{LOG} at {COMMIT_2026}",
    engine="mata",
    term="post_self",
    null=0.04,
    weights="webb",
    reps=9_999_999,
    t=2.0194,
    pvalue=0.0757,
    ci=None,
)

JULIA_2026_WEBB = BoottestReference(
    cmdline=f"{REGRESS}\nboottest post_self=.04, julia weight(webb) reps(9999999) noci",
    source=f"{LOG} at {COMMIT_2026}",
    engine="julia",
    term="post_self",
    null=0.04,
    weights="webb",
    reps=9_999_999,
    t=2.0194,
    pvalue=0.0757,
    ci=None,
)

#: Every fully enumerated Rademacher result above.
ENUMERATED = (
    MATA_2026_POST_SELF,
    MATA_2026_POST,
    JULIA_2026_POST_SELF,
    JULIA_2026_POST,
    MATA_2025_POST_SELF,
    MATA_2025_POST,
    JULIA_2025_POST,
)
#: The Webb results (Monte Carlo, 9,999,999 draws).
WEBB = (MATA_2026_WEBB, JULIA_2026_WEBB)

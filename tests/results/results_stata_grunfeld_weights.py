"""Stata reference results: Grunfeld investment panel with analytic weights ``[aw=1/mvalue]``.

Numbers copied from statsmodels' Stata reference file
``statsmodels/regression/tests/results/results_grunfeld_ols_robust_cluster.py`` (statsmodels
0.15, BSD-3; its "WLS" section), which holds the output of the Stata command quoted next to
each object.  Data and variable names as in ``results_stata_grunfeld.py`` (first 200 rows of
``statsmodels.datasets.grunfeld``); the weight is ``1/mvalue``.  Coefficient order: mvalue,
kstock, _cons.  regress reported rss = 243790.0687679817 (weighted, weights normalised to
sum to N = 200) and rmse = 35.1783035325949.
"""

from results.stata import StataReference

#: regress invest mvalue kstock [aw=1/mvalue], robust
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_hc1_wls_small
REGRESS_AW_ROBUST = StataReference(
    cmdline="regress invest mvalue kstock [aw=1/mvalue], robust",
    params=[0.11694307068216, 0.10410756769914, -9.2723336171089],
    std_errors=[0.00768545583365, 0.00986959606725, 2.3458404391932],
    tstats=[15.2161528494, 10.548310892334, -3.9526702081656],
    pvalues=[4.371656843e-35, 6.565731752e-21, 0.00010767530575],
    ci_lower=[0.10178674436759, 0.08464394422305, -13.898516363832],
    ci_upper=[0.13209939699674, 0.12357119117523, -4.6461508703863],
    df=197,
    cov=[
        5.906623137e-05,
        6.805470065e-06,
        -0.01210153268743,
        6.805470065e-06,
        9.740892653e-05,
        -0.01511046663892,
        -0.01210153268743,
        -0.01511046663892,
        5.502967366154,
    ],
)


#: regress invest mvalue kstock[aw=1/mvalue], vce(cluster company)
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_cluster_wls_small
REGRESS_AW_CLUSTER = StataReference(
    cmdline="regress invest mvalue kstock[aw=1/mvalue], vce(cluster company)",
    params=[0.11694307068216, 0.10410756769914, -9.2723336171089],
    std_errors=[0.02609630113434, 0.02285882773869, 5.7204731422962],
    tstats=[4.4812124936848, 4.5543703679489, -1.6209032690934],
    pvalues=[0.00152974827456, 0.00137730504553, 0.13948922172294],
    ci_lower=[0.05790913614858, 0.05239730679689, -22.212942910549],
    ci_upper=[0.17597700521575, 0.15581782860139, 3.6682756763312],
    df=9,
    cov=[
        0.00068101693289,
        -6.496077364e-05,
        -0.08926939086077,
        -6.496077364e-05,
        0.00052252600559,
        -0.0697116307149,
        -0.08926939086077,
        -0.0697116307149,
        32.723812971732,
    ],
)


#: ivreg2 invest mvalue kstock [aw=1/mvalue], cluster(company)
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_cluster_wls_large
IVREG2_AW_CLUSTER = StataReference(
    cmdline="ivreg2 invest mvalue kstock [aw=1/mvalue], cluster(company)",
    params=[0.11694307068216, 0.10410756769914, -9.2723336171089],
    std_errors=[0.02463240320082, 0.02157653909108, 5.3995775192484],
    tstats=[4.7475298990826, 4.8250355286218, -1.7172331694572],
    pvalues=[2.059159576e-06, 1.399783125e-06, 0.08593657730569],
    ci_lower=[0.06866444755588, 0.06181832816961, -19.855311086568],
    ci_upper=[0.16522169380844, 0.14639680722867, 1.31064385235],
    df=None,
    cov=[
        0.00060675528745,
        -5.787711139e-05,
        -0.07953498994782,
        -5.787711139e-05,
        0.00046554703915,
        -0.06210991017966,
        -0.07953498994782,
        -0.06210991017966,
        29.155437386372,
    ],
)

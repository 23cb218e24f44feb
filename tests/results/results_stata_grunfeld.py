"""Stata reference results: Grunfeld investment panel (10 firms x 20 years).

Numbers copied from statsmodels' Stata reference file
``statsmodels/regression/tests/results/results_grunfeld_ols_robust_cluster.py`` (statsmodels 0.15, BSD-3),
which holds the output of the Stata command quoted next to each object.
Coefficient order: mvalue, kstock, _cons.  ``df`` is the t-distribution degrees of
freedom Stata reported (``None``: Stata reported z statistics).
Data: statsmodels.datasets.grunfeld, first 200 rows (Stata's copy lacks the 11th firm);
invest = invest, mvalue = value, kstock = capital, company = firm, time = year.
regress reported rmse = 94.40840193979599 (RSS/(N-K)) and ivreg2 93.69766358599176 (RSS/N),
r2 = .8124080178314147.
"""

from results.stata import StataReference

#: regress invest mvalue kstock, vce(cluster company)
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_cluster
REGRESS_CLUSTER = StataReference(
    cmdline="regress invest mvalue kstock, vce(cluster company)",
    params=[0.11556215606596, 0.23067848754982, -42.714369016733],
    std_errors=[0.01589433647768, 0.08496711097464, 20.425202580078],
    tstats=[7.2706499090564, 2.7149150406994, -2.0912580352272],
    pvalues=[4.710548549e-05, 0.02380515903536, 0.06604843284516],
    ci_lower=[0.07960666895505, 0.03846952885627, -88.919387334862],
    ci_upper=[0.15151764317688, 0.42288744624337, 3.4906493013959],
    df=9,
    cov=[
        0.00025262993207,
        -0.00065043385106,
        0.20961897960949,
        -0.00065043385106,
        0.00721940994738,
        -1.2171040967615,
        0.20961897960949,
        -1.2171040967615,
        417.18890043724,
    ],
)

#: ivreg2 invest mvalue kstock, cluster(company)
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_cluster_large
IVREG2_CLUSTER = StataReference(
    cmdline="ivreg2 invest mvalue kstock, cluster(company)",
    params=[0.11556215606596, 0.23067848754982, -42.714369016733],
    std_errors=[0.01500272788516, 0.08020079648691, 19.27943055305],
    tstats=[7.7027429245215, 2.8762618035529, -2.2155410088072],
    pvalues=[1.331761148e-14, 0.00402415789383, 0.02672295281194],
    ci_lower=[0.08615734974119, 0.07348781490405, -80.501358543152],
    ci_upper=[0.14496696239074, 0.38786916019559, -4.9273794903145],
    df=None,
    cov=[
        0.000225081844,
        -0.00057950714469,
        0.1867610305767,
        -0.00057950714469,
        0.00643216775713,
        -1.0843847053056,
        0.1867610305767,
        -1.0843847053056,
        371.69644244987,
    ],
)

#: xtscc invest mvalue kstock, lag(4)
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_nw_groupsum4
XTSCC_LAG4 = StataReference(
    cmdline="xtscc invest mvalue kstock, lag(4)",
    params=[0.11556215606596, 0.23067848754982, -42.714369016733],
    std_errors=[0.0134360177573, 0.04930800664089, 12.190347184209],
    tstats=[8.6009231420662, 4.678317037431, -3.5039501641153],
    pvalues=[1.235433261e-05, 0.00115494570515, 0.0066818746948],
    ci_lower=[0.08516777225681, 0.11913602714384, -70.290850216489],
    ci_upper=[0.14595653987512, 0.3422209479558, -15.137887816977],
    df=9,
    cov=[
        0.00018052657317,
        -0.00035661054613,
        -0.06728261073866,
        -0.00035661054613,
        0.0024312795189,
        -0.32394785247278,
        -0.06728261073866,
        -0.32394785247278,
        148.60456447156,
    ],
)

#: newey invest mvalue kstock, lag(4) force
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_nw_panel4
NEWEY_PANEL_LAG4 = StataReference(
    cmdline="newey invest mvalue kstock, lag(4) force",
    params=[0.11556215606596, 0.23067848754982, -42.714369016733],
    std_errors=[0.01142785251475, 0.06842168281423, 16.179042041128],
    tstats=[10.112324771147, 3.3714237660029, -2.6401049523298],
    pvalues=[1.251631065e-19, 0.00089998163666, 0.00895205094219],
    ci_lower=[0.0930255277205, 0.09574552141602, -74.620718612662],
    ci_upper=[0.13809878441142, 0.36561145368361, -10.808019420804],
    df=197,
    cov=[
        0.0001305958131,
        -0.00022910455176,
        0.00889686530849,
        -0.00022910455176,
        0.00468152667913,
        -0.88403667445531,
        0.00889686530849,
        -0.88403667445531,
        261.76140136858,
    ],
)

#: ivreg2 invest mvalue kstock, cluster(company time) small
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_cluster_2groups_small
IVREG2_CLUSTER2_SMALL = StataReference(
    cmdline="ivreg2 invest mvalue kstock, cluster(company time) small",
    params=[0.11556215606596, 0.23067848754982, -42.714369016733],
    std_errors=[0.01635175387097, 0.07847391274682, 19.505607409785],
    tstats=[7.0672636695645, 2.9395563375824, -2.189850750062],
    pvalues=[5.873628221e-05, 0.01649863150032, 0.05626393734425],
    ci_lower=[0.07857191892244, 0.05315816373679, -86.839118533508],
    ci_upper=[0.15255239320949, 0.40819881136285, 1.4103805000422],
    df=9,
    cov=[
        0.00026737985466,
        -0.00070163493529,
        0.19641438763743,
        -0.00070163493529,
        0.0061581549818,
        -0.99627581152391,
        0.19641438763743,
        -0.99627581152391,
        380.46872042467,
    ],
)

#: ivreg2 invest mvalue kstock, cluster(company time)
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_cluster_2groups_large
IVREG2_CLUSTER2 = StataReference(
    cmdline="ivreg2 invest mvalue kstock, cluster(company time)",
    params=[0.11556215606596, 0.23067848754982, -42.714369016733],
    std_errors=[0.01543448599542, 0.07407184066336, 18.411420987265],
    tstats=[7.487269488613, 3.1142534799181, -2.319993065515],
    pvalues=[7.032121917e-14, 0.00184410987255, 0.02034125246974],
    ci_lower=[0.08531111939505, 0.08550034758104, -78.800091055978],
    ci_upper=[0.14581319273688, 0.3758566275186, -6.6286469774879],
    df=None,
    cov=[
        0.00023822335794,
        -0.00062512499511,
        0.17499633632219,
        -0.00062512499511,
        0.00548663757926,
        -0.88763669036779,
        0.17499633632219,
        -0.88763669036779,
        338.98042277032,
    ],
)

#: ivreg2 invest mvalue kstock, dkraay(5)
#: source: statsmodels results_grunfeld_ols_robust_cluster.py
#: statsmodels object: results_nw_groupsum4_ivreg_large
IVREG2_DKRAAY5 = StataReference(
    cmdline="ivreg2 invest mvalue kstock, dkraay(5)",
    params=[0.11556215606596, 0.23067848754982, -42.714369016733],
    std_errors=[0.0134360177573, 0.04930800664089, 12.190347184209],
    tstats=[8.6009231420662, 4.678317037431, -3.5039501641153],
    pvalues=[7.90774303e-18, 2.89239094e-06, 0.00045841113727],
    ci_lower=[0.08922804516602, 0.13403657038422, -66.607010456823],
    ci_upper=[0.14189626696591, 0.32732040471542, -18.821727576643],
    df=None,
    cov=[
        0.00018052657317,
        -0.00035661054613,
        -0.06728261073866,
        -0.00035661054613,
        0.0024312795189,
        -0.32394785247278,
        -0.06728261073866,
        -0.32394785247278,
        148.60456447156,
    ],
)

"""Stata reference results: US quarterly macro data, investment growth on GDP growth.

Numbers copied from statsmodels' Stata reference file
``statsmodels/regression/tests/results/results_macro_ols_robust.py`` (statsmodels 0.15, BSD-3),
which holds the output of the Stata command quoted next to each object.
Coefficient order: g_realgdp, L.realint, _cons.  ``df`` is the t-distribution degrees of
freedom Stata reported (``None``: Stata reported z statistics).
Data: statsmodels.datasets.macrodata (1959Q1-2009Q3, tsset by quarter); g_realinv =
400*D.ln(realinv), g_realgdp = 400*D.ln(realgdp); N = 202.
regress reported rmse = 10.7037959322668, r2 = .6769775594319385.
"""

from results.stata import StataReference

#: regress g_realinv g_realgdp L.realint, vce(robust)
#: source: statsmodels results_macro_ols_robust.py
#: statsmodels object: results_hc0
REGRESS_ROBUST = StataReference(
    cmdline="regress g_realinv g_realgdp L.realint, vce(robust)",
    params=[4.3742216647032, -0.61399696947899, -9.4816727746549],
    std_errors=[0.32355452428856, 0.32772840315987, 1.3690593206013],
    tstats=[13.519272136038, -1.8734933059173, -6.9256843965613],
    pvalues=[5.703151404e-30, 0.06246625509181, 5.860240898e-11],
    ci_lower=[3.7361862031101, -1.2602631388273, -12.181398261383],
    ci_upper=[5.0122571262963, 0.0322691998693, -6.7819472879264],
    df=199,
    cov=[
        0.1046875301876,
        -0.00084230205782,
        -0.34205013876828,
        -0.00084230205782,
        0.10740590623772,
        -0.14114426417778,
        -0.34205013876828,
        -0.14114426417778,
        1.8743234233252,
    ],
)

#: newey g_realinv g_realgdp L.realint, lag(4)
#: source: statsmodels results_macro_ols_robust.py
#: statsmodels object: results_newey4
NEWEY_LAG4 = StataReference(
    cmdline="newey g_realinv g_realgdp L.realint, lag(4)",
    params=[4.3742216647032, -0.61399696947899, -9.4816727746549],
    std_errors=[0.33125644884286, 0.29582347593197, 1.1859338087713],
    tstats=[13.204940401864, -2.0755518727668, -7.9951112823729],
    pvalues=[5.282334606e-29, 0.03922090940364, 1.036821797e-13],
    ci_lower=[3.7209983425819, -1.1973480087863, -11.820282709911],
    ci_upper=[5.0274449868245, -0.03064593017165, -7.1430628393989],
    df=199,
    cov=[
        0.10973083489998,
        0.0003953117603,
        -0.31803287070833,
        0.0003953117603,
        0.08751152891247,
        -0.06062111121649,
        -0.31803287070833,
        -0.06062111121649,
        1.4064389987868,
    ],
)

#: ivreg2 g_realinv g_realgdp L.realint, robust bw(5) small
#: source: statsmodels results_macro_ols_robust.py
#: statsmodels object: results_ivhac4_small
IVREG2_BW5_SMALL = StataReference(
    cmdline="ivreg2 g_realinv g_realgdp L.realint, robust bw(5) small",
    params=[4.3742216647032, -0.61399696947899, -9.4816727746549],
    std_errors=[0.33125644884286, 0.29582347593197, 1.1859338087713],
    tstats=[13.204940401864, -2.0755518727668, -7.9951112823729],
    pvalues=[5.282334606e-29, 0.03922090940364, 1.036821797e-13],
    ci_lower=[3.7209983425819, -1.1973480087863, -11.820282709911],
    ci_upper=[5.0274449868245, -0.03064593017165, -7.1430628393989],
    df=199,
    cov=[
        0.10973083489998,
        0.0003953117603,
        -0.31803287070833,
        0.0003953117603,
        0.08751152891247,
        -0.06062111121649,
        -0.31803287070833,
        -0.06062111121649,
        1.4064389987868,
    ],
)

#: ivreg2 g_realinv g_realgdp L.realint, robust bw(5)
#: source: statsmodels results_macro_ols_robust.py
#: statsmodels object: results_ivhac4_large
IVREG2_BW5 = StataReference(
    cmdline="ivreg2 g_realinv g_realgdp L.realint, robust bw(5)",
    params=[4.3742216647032, -0.61399696947899, -9.4816727746549],
    std_errors=[0.32878742225811, 0.29361854972141, 1.1770944273439],
    tstats=[13.304102798888, -2.0911382133777, -8.055150508231],
    pvalues=[2.19107474e-40, 0.03651567605333, 7.938107001e-16],
    ci_lower=[3.7298101585076, -1.1894787521258, -11.788735458652],
    ci_upper=[5.0186331708989, -0.03851518683214, -7.1746100906581],
    df=None,
    cov=[
        0.10810116903513,
        0.00038944079356,
        -0.31330961025227,
        0.00038944079356,
        0.0862118527405,
        -0.05972079768357,
        -0.31330961025227,
        -0.05972079768357,
        1.385551290884,
    ],
)

#: ivreg2 g_realinv g_realgdp L.realint, robust small
#: source: statsmodels results_macro_ols_robust.py
#: statsmodels object: results_ivhc0_small
IVREG2_ROBUST_SMALL = StataReference(
    cmdline="ivreg2 g_realinv g_realgdp L.realint, robust small",
    params=[4.3742216647032, -0.61399696947899, -9.4816727746549],
    std_errors=[0.32355452428856, 0.32772840315987, 1.3690593206013],
    tstats=[13.519272136038, -1.8734933059173, -6.9256843965613],
    pvalues=[5.703151404e-30, 0.06246625509181, 5.860240898e-11],
    ci_lower=[3.7361862031101, -1.2602631388273, -12.181398261383],
    ci_upper=[5.0122571262963, 0.0322691998693, -6.7819472879264],
    df=199,
    cov=[
        0.1046875301876,
        -0.00084230205782,
        -0.34205013876828,
        -0.00084230205782,
        0.10740590623772,
        -0.14114426417778,
        -0.34205013876828,
        -0.14114426417778,
        1.8743234233252,
    ],
)

#: ivreg2 g_realinv g_realgdp L.realint, robust
#: source: statsmodels results_macro_ols_robust.py
#: statsmodels object: results_ivhc0_large
IVREG2_ROBUST = StataReference(
    cmdline="ivreg2 g_realinv g_realgdp L.realint, robust",
    params=[4.3742216647032, -0.61399696947899, -9.4816727746549],
    std_errors=[0.32114290415293, 0.32528567293437, 1.3588550094989],
    tstats=[13.620795004769, -1.8875622892954, -6.9776927695558],
    pvalues=[3.012701837e-42, 0.05908473670106, 3.000669464e-12],
    ci_lower=[3.7447931386729, -1.2515451731172, -12.144979653484],
    ci_upper=[5.0036501907336, 0.02355123415926, -6.8183658958253],
    df=None,
    cov=[
        0.10313276488778,
        -0.00082979262132,
        -0.33697018621231,
        -0.00082979262132,
        0.10581076901637,
        -0.13904806223455,
        -0.33697018621231,
        -0.13904806223455,
        1.8464869368401,
    ],
)

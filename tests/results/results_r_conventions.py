"""R reference results for the conventions a user can name beside Stata's defaults.

Two-way clustering with the Cameron-Gelbach-Miller adjustment on each term
(``cluster_df = "conventional"``), on Petersen's test data:

* source: R package sandwich 3.1-1 (GPL-2 | GPL-3), ``tests/Examples/sandwich-Ex.Rout.save``
  (the checked output of the ``vcovCL`` help-page examples, R 4.4.1), read from
  github:cran/sandwich at commit 8c1131d5c6c32a4d161f71a6005501e711ba1386.
  ``m <- lm(y ~ x, data = PetersenCL)``; printed with 7 significant digits.
  ``vcovCL``'s defaults are ``type = "HC1"``, ``cadjust = TRUE`` (each term
  ``G/(G-1)``), ``multi0 = FALSE`` (the firm-year intersection is clustered too).
* Mitchell Petersen's web page "Programming Advice - Estimating Standard Errors in Finance
  Panel Data Sets" (kellogg.northwestern.edu/faculty/petersen/htm/papers/se/test_data.htm),
  as quoted in statsmodels' ``statsmodels/stats/tests/test_sandwich.py``: standard errors
  clustered by firm and year 0.0651 (intercept) and 0.0536 (x), four decimals.

Data: Petersen's ``test_data.txt`` as shipped by statsmodels
(``statsmodels/stats/tests/test_data.txt``: firm, year, x, y; 500 firms x 10 years).
That copy has 7 significant digits; sandwich's ``PetersenCL`` holds the same values to
single precision, so the diagonal agrees to 1e-7 relative and the off-diagonal element
(a difference of nearly equal sums) to about 2e-6 relative.

Driscoll-Kraay with plm's ``type = "HC1"`` factor ``n/(n-k)`` (``dk_adjust = "hc1"``):

* source: R package plm 2.2-3 (GPL >= 2), ``tests/Examples/plm-Ex.Rout.save`` (the
  ``vcovSCC`` help-page examples), read from github:cran/plm at commit
  aa629f589d6923ce1a43f1103d1ab672bb6800c4.
* data: ``Produc`` (Munnell 1990; 48 US states x 1970-1986) from plm's ``data/Produc.rda``,
  stored as ``tests/data/produc.csv`` (see ``tests/data/README.md``).
"""

#: vcovCL(m, cluster = ~ firm + year)
#: source: sandwich-Ex.Rout.save, vcovCL examples ("## two-way")
#: order: (Intercept), x; row-major
SANDWICH_VCOVCL_FIRM_YEAR = [4.233313e-03, -2.845344e-05, -2.845344e-05, 2.868462e-03]

#: vcovCL(m, cluster = ~ firm)   (equals Stata's regress y x, vce(cluster firm))
#: source: sandwich-Ex.Rout.save, vcovCL examples ("## one-way")
SANDWICH_VCOVCL_FIRM = [4.490702e-03, -6.473517e-05, -6.473517e-05, 2.559927e-03]

#: Petersen's web page: OLS standard errors clustered by firm and year (intercept, x)
PETERSEN_SE_FIRM_YEAR = [0.0651, 0.0536]

#: zz <- plm(log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp, data = Produc, model = "pooling")
#: coeftest(zz, vcov. = function(x) vcovSCC(x, type = "HC1", maxlag = 4))
#: source: plm-Ex.Rout.save, vcovSCC examples; order (Intercept), log(pcap), log(pc),
#: log(emp), unemp; t test with df.residual = 816 - 5 = 811.
PLM_SCC_HC1_LAG4 = {
    "params": [1.6433023, 0.1550070, 0.3091902, 0.5939349, -0.0067330],
    "std_errors": [0.1793363, 0.0441052, 0.0069837, 0.0454539, 0.0029520],
    "tstats": [9.1632, 3.5145, 44.2731, 13.0668, -2.2808],
    "pvalues": {"log(pcap)": 0.000465, "unemp": 0.022817},
    "df": 811,
}

#: coeftest(zz, vcov. = vcovSCC)   (type = "HC0", maxlag = floor(17^(1/4)) = 2: no factor,
#: the xtscc meat; plm's t df differ from xtscc's, so only the standard errors are compared)
#: source: plm-Ex.Rout.save, vcovSCC examples ("## SCC robust significance test, default")
PLM_SCC_HC0_LAG2_STD_ERRORS = [0.1503485, 0.0369734, 0.0076442, 0.0387024, 0.0025389]

"""Estimation engine: specs, formulas, estimators, covariance conventions, results, diagnostics."""

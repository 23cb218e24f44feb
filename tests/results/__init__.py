"""Reference numbers from published Stata output (statsmodels style), cited per file."""

"""reexport: export-flow econometrics, from raw bytes to replication scorecards.

The package is layered so data flows one way: ``sources`` -> ``store`` (raw,
immutable) -> ``panel`` (processed tables) -> ``models`` -> ``report``.  Each
layer imports only from the layers below it.  Importing the package itself is
cheap: heavy libraries (pandas, statsmodels, matplotlib) are imported by the
modules that need them, never here.
"""

__version__ = "0.1.0"

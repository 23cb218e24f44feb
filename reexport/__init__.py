"""reexport: export-flow econometrics, from raw bytes to replication scorecards.

The package is layered so data flows one way: ``sources`` -> ``store`` (raw,
immutable) -> ``panel`` (processed tables) -> ``models`` -> ``report``.  Each
layer imports only from the layers below it.  Importing the package itself is
cheap: heavy libraries (pandas, statsmodels, matplotlib) are imported by the
modules that need them, never here; the Python API below is loaded on first use
(module ``__getattr__``), so ``reexport --help`` stays fast.

From Python::

    import reexport as rx
    res = rx.fit("trade ~ rta | exporter^year + importer^year + exporter^importer",
                 df, estimator="ppml", cov={"type": "cluster", "by": "exporter^importer"})
    print(res.summary())
    rx.table([res], format="latex")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public names loaded on first access: name -> (module, attribute).
_LAZY = {
    "fit": ("reexport.models.api", "fit"),
    "table": ("reexport.report.tables", "models_table"),
    "ModelResult": ("reexport.models.results", "ModelResult"),
    "ResultsFile": ("reexport.models.results", "ResultsFile"),
    "load_results": ("reexport.models.results", "load_results"),
    "BadInputError": ("reexport.errors", "BadInputError"),
}

__all__ = [
    "BadInputError",
    "ModelResult",
    "ResultsFile",
    "__version__",
    "fit",
    "load_results",
    "table",
]

if TYPE_CHECKING:
    from reexport.errors import BadInputError
    from reexport.models.api import fit
    from reexport.models.results import ModelResult, ResultsFile, load_results
    from reexport.report.tables import models_table as table


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'reexport' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

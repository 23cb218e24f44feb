"""Reference tables shipped inside the package (``reexport/data/...``), checked on load.

The package carries published files byte for byte (Comtrade's area tables, the HS
nomenclature), each with its sha256 recorded beside the module that reads it and its
source in the folder's provenance file.  A file that no longer matches is a damaged
install, refused in one line rather than read.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from reexport.errors import BadInputError

DATA_PACKAGE = "reexport"


def packaged_bytes(folder: str, name: str, sha256: str, provenance: str) -> bytes:
    """The bytes of ``reexport/<folder>/<name>``, refused unless their sha256 is ``sha256``.

    Parameters
    ----------
    folder
        Folder inside the package, e.g. ``"data/hs"``.
    name
        File name in it.
    sha256
        The recorded hex digest of the published file.
    provenance
        The folder's provenance file, named in the message (e.g. ``"PROVENANCE.md"``).

    Raises
    ------
    BadInputError
        When the file's sha256 differs (one line; reinstall the package).
    """
    content = (resources.files(DATA_PACKAGE) / folder / name).read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
        raise BadInputError(
            f"{folder}/{name}: sha256 {digest[:12]}... is not the recorded "
            f"{sha256[:12]}... (see {folder}/{provenance}); reinstall reexport"
        )
    return content

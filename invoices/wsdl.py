"""Where the vendored WSDLs live: read from the package at run time, never fetched."""
from __future__ import annotations

from pathlib import Path

import schemas.wsdl

_WSDL_DIR = Path(schemas.wsdl.__file__).resolve().parent

VIES_WSDL = _WSDL_DIR / "vies" / "checkVatService.wsdl"
MNB_WSDL = _WSDL_DIR / "mnb" / "arfolyamok.asmx.wsdl"

"""Text that goes into an XML document (NAV's, a PDF's): only the characters XML 1.0 allows, so a
control character is a 422 at the door, not a failed report later."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# XML 1.0 Char: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: str) -> str:
    found = _NOT_XML.search(value)
    if found:
        raise ValueError(f"contains a control character (U+{ord(found.group()):04X}) that no document can hold")
    return value


XmlText = Annotated[str, AfterValidator(xml_safe)]

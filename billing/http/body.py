"""Reading a JSON body that the routes parse themselves (batches, raw payloads)."""
from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from billing.errors import InvalidInput


async def read_json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("the body is not valid JSON", {"errors": [{"field": "", "message": str(exc)}]}) from exc

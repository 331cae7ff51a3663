"""Rate limits on the routes anyone can reach without a key (the portal, its pay button, Stripe's
webhook): per client address and route group, a moving window (the `limits` library that slowapi
is built on). Over the limit: 429 with Retry-After, before the route does any work."""
from __future__ import annotations

import json
import math
import os
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

DEFAULT = "120/minute"
# Route groups by path prefix: each has its own budget per client address.
PUBLIC = (("/portal/", "portal"), ("/v1/payments/stripe/webhook", "stripe_webhook"))


class PublicRateLimit:
    def __init__(self, app, limit: str | None = None) -> None:
        self.app = app
        self.item = parse(limit or os.environ.get("BILLING_PUBLIC_RATE_LIMIT", DEFAULT))
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            group = next((name for prefix, name in PUBLIC if scope["path"].startswith(prefix)), None)
            if group is not None:
                client = (scope.get("client") or ("unknown", 0))[0]
                if not self.limiter.hit(self.item, group, client):
                    return await self._refuse(send, group, client)
        return await self.app(scope, receive, send)

    async def _refuse(self, send, group: str, client: str) -> None:
        reset, _ = self.limiter.get_window_stats(self.item, group, client)
        retry_after = max(1, math.ceil(reset - time.time()))
        body = json.dumps({"error": "rate_limited", "message": f"too many requests; retry in {retry_after} s"}).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

"""A zeep Transport that answers from canned SOAP replies and refuses any real HTTP."""
from __future__ import annotations

from typing import Callable

import requests
from zeep.transports import Transport

# handler(address, request body, headers) -> (status, body); may raise requests exceptions.
Handler = Callable[[str, bytes, dict], tuple[int, str]]


class CannedTransport(Transport):
    def __init__(self, handler: Handler):
        super().__init__()
        self.handler = handler
        self.requests: list[tuple[str, bytes, dict]] = []

    def post(self, address, message, headers):
        body = message if isinstance(message, bytes) else message.encode()
        self.requests.append((address, body, dict(headers)))
        status, reply = self.handler(address, body, dict(headers))
        response = requests.Response()
        response.status_code = status
        response._content = reply.encode("utf-8")
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        response.encoding = "utf-8"
        response.url = address
        return response

    def get(self, address, params, headers):
        raise AssertionError(f"test transport refuses GET {address}")

    def _load_remote_data(self, url):
        raise AssertionError(f"test transport refuses to fetch {url}")


def soap11(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    )


def soap_fault(code: str) -> tuple[int, str]:
    return 500, soap11(f"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>{code}</faultstring></soap:Fault>")


def refuse(address, body, headers):
    raise requests.ConnectionError(f"no network in tests: {address}")

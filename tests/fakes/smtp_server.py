"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the mail tests.

`FakeSmtp(refuse=[451, 451])` answers the first two DATA commands with those codes, then accepts;
`tls="starttls"` offers STARTTLS (and AUTH after it), `tls="smtps"` speaks TLS from the first byte,
both with a self-signed certificate made for 127.0.0.1 (`ca_file` is it, for SMTP_CA_FILE)."""
from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
import tempfile
import threading
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "billing", "s3cret pass"


class _Handler:
    def __init__(self, server: "FakeSmtp") -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            self.server.attempts += 1
            if self.server.refuse:
                code = self.server.refuse.pop(0)
                return f"{code} {'try again later' if code < 500 else 'mailbox unavailable'}"
            message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            self.server.received.append(message)
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd checks its readiness by connecting: it needs a real port
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FakeSmtp:
    def __init__(self, refuse: list[int] | None = None, tls: str | None = None) -> None:
        self.refuse = list(refuse or [])
        self.received: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.attempts = 0
        self.lock = threading.Lock()
        self.tls = tls
        self._dir = tempfile.TemporaryDirectory()
        self.ca_file: str | None = None
        kwargs: dict = {}
        if tls:
            cert, key = self_signed(Path(self._dir.name))
            self.ca_file = str(cert)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            kwargs = {"authenticator": _authenticator, "auth_require_tls": True}
            if tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:  # TLS from the first byte; aiosmtpd does not see it as TLS, so AUTH is allowed as such
                kwargs.update(ssl_context=context, auth_require_tls=False)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=_free_port(),
                                     server_hostname="localhost", **kwargs)

    @property
    def url(self) -> str:
        port = self.controller.port
        if self.tls == "starttls":
            return f"smtp+starttls://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{port}"
        if self.tls == "smtps":
            return f"smtps://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{port}"
        return f"smtp://127.0.0.1:{port}"

    def __enter__(self) -> "FakeSmtp":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
        self._dir.cleanup()

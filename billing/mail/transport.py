"""Where messages go: an SMTP server named by SMTP_URL (the standard library's smtplib), or, without
it, one .eml file per message under MAIL_DIR (default ./mail).

SMTP_URL: `smtp://host:port` (plain), `smtp+starttls://user:pass@host:port` (STARTTLS, then
AUTH), `smtps://user:pass@host:port` (TLS from the start). User and password are URL-quoted.
The server's certificate is checked against the system's CAs, or SMTP_CA_FILE when set.
A refusal is a DeliveryError: permanent for a 5xx answer to the sender, a recipient or the data
(retrying cannot help), transient for anything else (4xx, connection, timeout, authentication)."""
from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmtpTransport:
    """One connection for a batch of messages (a context manager), opened at the first send and
    opened again after a failure."""

    def __init__(self, url: str, timeout_s: float = 20.0, ca_file: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("SMTP_URL must be smtp://, smtp+starttls:// or smtps://host[:port]")
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or DEFAULT_PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout_s, self.ca_file = timeout_s, ca_file
        self._conn: smtplib.SMTP | None = None

    def describe(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"  # never the credentials

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _open(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=self._context())
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        conn.ehlo()
        if self.scheme == "smtp+starttls":
            conn.starttls(context=self._context())
            conn.ehlo()
        if self.user:
            conn.login(self.user, self.password or "")
        return conn

    def send(self, message: EmailMessage) -> None:
        try:
            if self._conn is None:
                self._conn = self._open()
            refused = self._conn.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(f"recipient refused: {codes}", permanent=all(code >= 500 for code in codes)) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self._drop()
            raise DeliveryError(f"refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                                permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        if refused:  # one To: a refusal of it raises above; kept for a future Cc
            raise DeliveryError(f"recipient refused: {refused}")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def __enter__(self) -> "SmtpTransport":
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except Exception:
                pass
        self._drop()


class EmlDirectory:
    """Each message as `<outbox id>-<kind>.eml` under a directory: written to a temporary name and
    renamed, so a file is whole or absent, and a resend overwrites the same file."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    def describe(self) -> str:
        return f"eml:{self.directory}"

    def send(self, message: EmailMessage) -> None:
        name = message["X-Billing-Message"]
        if not name:
            raise DeliveryError("no X-Billing-Message header to name the file by", permanent=True)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.directory / f"{name}.eml"
            temporary = target.with_suffix(".eml.tmp")
            temporary.write_bytes(message.as_bytes())
            temporary.replace(target)
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.directory}: {exc}") from exc

    def __enter__(self) -> "EmlDirectory":
        return self

    def __exit__(self, *exc) -> None:
        return None


def transport_from_env() -> SmtpTransport | EmlDirectory:
    url = os.environ.get("SMTP_URL")
    if url:
        timeout_s = float(os.environ.get("SMTP_TIMEOUT_S", "20"))  # float ok: seconds, not money
        return SmtpTransport(url, timeout_s, os.environ.get("SMTP_CA_FILE") or None)
    return EmlDirectory(os.environ.get("MAIL_DIR") or "./mail")


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

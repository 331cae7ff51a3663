"""Shared fixtures. `db_url` runs a test on SQLite and on PostgreSQL, each time on an empty database."""
from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import tempfile

import pytest
from sqlalchemy import create_engine, text

from tests.pg import ThrowawayPostgres

_counter = itertools.count()

# Without SMTP_URL every cycle run writes its messages as .eml files under MAIL_DIR (default ./mail):
# the suite's go to a temporary directory, never into the working tree. Tests of the mail read their own.
os.environ.setdefault("MAIL_DIR", tempfile.mkdtemp(prefix="billing-test-mail-"))

# No test reaches the internet: the service's defaults point at real services (VIES_URL and MNB_URL
# default to the EU's and MNB's public web services), so a test that forgets its loopback stand-in
# gets the failed name lookup an offline machine gives at once, never a wait for a network
# timeout. Loopback names and addresses resolve as usual.
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", socket.gethostname()})
_getaddrinfo = socket.getaddrinfo


def _local_only_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name in _LOCAL_NAMES or name.endswith(".localhost"):
        return _getaddrinfo(host, *args, **kwargs)
    try:
        if ipaddress.ip_address(name.split("%")[0]).is_loopback:
            return _getaddrinfo(host, *args, **kwargs)
    except ValueError:
        pass
    raise socket.gaierror(socket.EAI_NONAME, f"tests never reach the internet ({name}): use a loopback stand-in")


socket.getaddrinfo = _local_only_getaddrinfo


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        yield None, url
        return
    server = ThrowawayPostgres()
    admin_url = server.start()
    try:
        yield server, admin_url
    finally:
        server.stop()


def _fresh_postgres_database(admin_url: str) -> str:
    name = f"t_{os.getpid()}_{next(_counter)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database URL; the test creates its schema (billing.db.session.create_schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'billing.db'}"
    _, admin_url = request.getfixturevalue("postgres_server")
    return _fresh_postgres_database(admin_url)

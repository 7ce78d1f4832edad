"""Real processes around one PostgreSQL: a private cluster to restart, dashboard nodes, clients.

The shared PostgreSQL server of the machine is never stopped: a test that restarts the
database starts a private cluster of its own (initdb into a temporary folder, a port of
PRIVATE_PORTS, run as the `postgres` system user when we are root) and removes it after.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.db.models import Clinic
from surveillance.services import Actor
from surveillance.services.accounts import Admin, add_user
from tests.support.postgres import REQUIRE_POSTGRES

CLI = [sys.executable, "-c", "from surveillance.cli import main; main()"]
HANG_GUARD = 120  # seconds: only a broken test waits this long; nothing is timed
# Ports of this machine's range for the tests' own servers (override for another machine).
PRIVATE_PORTS = range(*map(int, os.environ.get("SURVEILLANCE_TEST_PORTS", "6400-6450").split("-")))
EMAIL, PASSWORD = "nurse@klinikk.test", "correct horse battery staple"
SECRET_KEY = "two-nodes-share-this-key-0123456789abcdef"


_HANDED_OUT: set[int] = set()
# Parallel test workers (pytest-xdist's gw0, gw1 ...) start at different places in the range.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def free_port() -> int:
    """A port of PRIVATE_PORTS nobody listens on now, and not handed out before by this process."""
    start = (_WORKER * len(PRIVATE_PORTS) // 4) % len(PRIVATE_PORTS)
    for port in [*PRIVATE_PORTS[start:], *PRIVATE_PORTS[:start]]:
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port in {PRIVATE_PORTS}")


def postgres_binaries_or_skip() -> Path:
    """The folder of initdb and pg_ctl; a skip, or with SURVEILLANCE_REQUIRE_POSTGRES=1 a failure."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    folder = Path(found[-1]).parent if found else None
    if folder is None and (which := shutil.which("pg_ctl")):
        folder = Path(which).parent
    reason = None
    if folder is None:
        reason = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
    elif os.geteuid() == 0 and not shutil.which("runuser"):
        reason = "running as root without runuser: cannot start PostgreSQL as `postgres`"
    if reason and REQUIRE_POSTGRES:
        pytest.fail(f"{reason} (SURVEILLANCE_REQUIRE_POSTGRES=1)")
    if reason:
        pytest.skip(reason)
    assert folder is not None
    return folder


class PrivateCluster:
    """A PostgreSQL cluster of the test's own, on loopback, trust authentication."""

    def __init__(self, binaries: Path):
        self.binaries, self.port = binaries, free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="surveillance-pg-"))
        self.data = self.folder / "data"
        if os.geteuid() == 0:  # initdb refuses root; the folder must be the server's
            shutil.chown(self.folder, "postgres", "postgres")
        self._as_server(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def _as_server(self, program: str, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, str(self.binaries / program), *args],
            check=True,
            capture_output=True,
            timeout=HANG_GUARD,
        )

    def _pg_ctl(self, *args: str) -> None:
        self._as_server("pg_ctl", "-D", str(self.data), "-w", "-t", str(HANG_GUARD), *args)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-l", str(self.folder / "server.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends every session cleanly, "immediate" is a crash."""
        self._pg_ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again: every connection of every client is cut."""
        self.stop(mode)
        self.start()

    def create_database(self, name: str) -> str:
        """A new database; its SQLAlchemy URL."""
        server = sa.make_url(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres")
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return server.set(database=name).render_as_string(hide_password=False)

    def remove(self) -> None:
        """Stop the server if it runs, and delete its folder."""
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def prepare_database(url: str) -> None:
    """Schema by the migrations, one clinic TEST and a nurse of it."""
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            with session.begin():
                session.add(Clinic(code="TEST", name="Testklinikken"))
            add_user(
                session,
                Admin(Actor("test")),
                email=EMAIL,
                password=PASSWORD,
                role="nurse",
                clinic_codes=["TEST"],
            )
    finally:
        engine.dispose()


def node_config(folder: Path, url: str, extra: str = "") -> Path:
    """A configuration file for a node: its own instance folder, the shared database and key."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\nconnect_timeout_seconds = 2\n\n'
        f"[patients]\naccept_synthetic_ids = true\n\n"
        f'[web]\nsecret_key = "{SECRET_KEY}"\ninstance_dir = "{folder / "instance"}"\n{extra}'
    )
    return path


def environment(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEILLANCE_")}
    return env | {"SURVEILLANCE_CONFIG": str(config)}


class Node:
    """`surveillance serve` in a process of its own."""

    def __init__(self, config: Path, threads: int = 4):
        self.config, self.threads, self.port = config, threads, free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> Node:
        """Start the process and wait until /healthz answers 200."""
        log = open(self.config.parent / "serve.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port), "--threads", str(self.threads)],
            env=environment(self.config),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + HANG_GUARD
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.log()}")
            try:
                if Client(self.port).request("GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve never became healthy: {self.log()}")

    def kill(self) -> None:
        """SIGKILL: what a node's crash or a pulled cable looks like to its clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(HANG_GUARD)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(HANG_GUARD)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(HANG_GUARD)

    def log(self) -> str:
        path = self.config.parent / "serve.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


class Client:
    """One browser: cookies, any node (the load balancer's choice), forms with their CSRF token."""

    def __init__(self, port: int, timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        """One request on a fresh connection; status, text and headers (lower-case names)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent["Content-Type"] = content_type
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, text, {k.lower(): v for k, v in response.headers.items()}

    def on(self, port: int) -> Client:
        """The same browser, its next requests sent to another node."""
        self.port = port
        return self

    def post_form(self, path: str, page: str, **fields: str) -> tuple[int, str, dict[str, str]]:
        """Submit a form with the CSRF token of the page it was on."""
        token = CSRF.search(page)
        assert token, "no csrf_token on the page"
        body = urllib.parse.urlencode({"csrf_token": token[1], **fields}).encode()
        return self.request("POST", path, body)

    def post_file(
        self, path: str, page: str, filename: str, data: bytes, **fields: str
    ) -> tuple[int, str, dict[str, str]]:
        """Submit a multipart form with one file, as the import page does."""
        token = CSRF.search(page)
        assert token, "no csrf_token on the page"
        boundary = "surveillance-test-boundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in {"csrf_token": token[1], **fields}.items()
        ]
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
        )
        body = "".join(parts).encode() + head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", path, body, f"multipart/form-data; boundary={boundary}")

    def log_in(self, email: str = EMAIL, password: str = PASSWORD) -> None:
        """Through the real login form."""
        status, page, _ = self.request("GET", "/login")
        assert status == 200, status
        status, _, headers = self.post_form("/login", page, email=email, password=password)
        assert status == 302 and headers["location"] == "/", (status, headers)

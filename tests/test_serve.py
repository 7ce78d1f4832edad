"""`surveillance serve --worker` (what `make run` starts): the dashboard and one scheduler."""

from __future__ import annotations

import email
import email.policy
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from surveillance.cli.serve import served_config
from surveillance.config import Config, WebConfig
from tests.support.processes import CLI, HANG_GUARD, Lines, environment
from tests.support.smtp import ALWAYS_DUE

pytestmark = pytest.mark.thorough  # server processes

PORTS = range(7200, 7220)  # this test's own range on a shared machine


def free_port() -> int:
    """A port of PORTS nobody listens on."""
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.skip(f"every port of {PORTS} is taken")


def demo_config(folder: Path) -> Path:
    """The demo's configuration, as `make run` writes it, with its files in `folder`."""
    path = folder / "config.toml"
    path.write_text(
        f'[patients]\naccept_synthetic_ids = true\n\n[database]\nurl = "sqlite:///{folder}/s.db"\n'
        f'\n[web]\ninstance_dir = "{folder}"\n\n[mail]\noutbox_dir = "{folder}/outbox"\n'
        f"\n[reminders]\n{ALWAYS_DUE}"
    )
    return path


def wait_for_mail(outbox: Path, server: subprocess.Popen) -> email.message.EmailMessage:
    """The first e-mail the worker writes (the scheduler's catch-up run sends at once)."""
    for _ in range(HANG_GUARD * 10):
        if files := sorted(outbox.glob("*.eml")):
            return email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        assert server.poll() is None, "the server stopped"
        time.sleep(0.1)
    raise AssertionError("no daily e-mail was written")


def test_serve_with_worker_sends_the_digest_with_links_to_the_port_served(tmp_path):
    config = demo_config(tmp_path)
    env = environment(config)
    loaded = subprocess.run(
        CLI + ["demo", "--patients", "24"], check=False, env=env, capture_output=True
    )
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    server = subprocess.Popen(
        CLI + ["serve", "--worker", "--port", str(port)],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lines = Lines(server.stderr)
    try:
        lines.wait_for("worker started")
        mail = wait_for_mail(tmp_path / "outbox", server)
        text = mail.get_body(("plain",)).get_content()
        assert f"http://127.0.0.1:{port}/?clinic=" in text
        assert ":5000" not in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as page:
            assert page.status == 200
        server.send_signal(signal.SIGTERM)
        lines.wait_for("worker stopped")  # the child went with the server
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(HANG_GUARD)
        lines.close()
        server.stderr.close()


@pytest.mark.parametrize(
    "host, configured, links",
    [
        ("127.0.0.1", WebConfig.base_url, "http://127.0.0.1:7201"),  # the default follows
        ("0.0.0.0", WebConfig.base_url, "http://127.0.0.1:7201"),  # every address: loopback
        ("127.0.0.1", "https://lever.example.org", "https://lever.example.org"),  # set: kept
    ],
)
def test_links_name_the_address_served_unless_one_is_configured(host, configured, links):
    config = Config(web=WebConfig(base_url=configured))
    assert served_config(config, host, 7201).web.base_url == links

"""A real headless Chromium (Debian's, driven by Playwright) against the dashboard on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from dataclasses import replace

import pytest

from surveillance.clock import clinic_today
from surveillance.config import load_config
from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo
from surveillance.services import Actor, Context

CHROMIUM = os.environ.get("SURVEILLANCE_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("SURVEILLANCE_REQUIRE_BROWSER") == "1"
# Without the networking flags Chromium keeps trying to reach the closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NURSE = (DEMO_ACCOUNTS[0][0], DEMO_PASSWORD)


def today():
    """The clinic's today, as the demo server's (the tests that read due dates compare to it)."""
    return clinic_today(load_config(environ={}).protocol.timezone)


def _browser_or_skip():
    reason = None
    if not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright is not installed (pip install -e '.[test]')"
    if reason and REQUIRE_BROWSER:
        pytest.fail(f"{reason} (SURVEILLANCE_REQUIRE_BROWSER=1)")
    if reason:
        pytest.skip(reason)


def _free_port() -> int:
    # On a shared machine each developer serves on their own range of ports.
    if chosen := os.environ.get("SURVEILLANCE_TEST_PORT"):
        return int(chosen)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The dashboard on the demo data, from a file database, served by waitress in a thread."""
    _browser_or_skip()
    import waitress

    from surveillance.web import create_app

    folder = tmp_path_factory.mktemp("site")
    base = load_config(environ={})
    config = replace(
        base,
        database=replace(base.database, url=f"sqlite:///{folder}/demo.db"),
        patients=replace(base.patients, accept_synthetic_ids=True),
        web=replace(base.web, secret_key="b" * 32, instance_dir=str(folder)),
    )
    engine = make_engine(config.database.url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        today = clinic_today(config.protocol.timezone)
        load_demo(session, Context.from_config(config, Actor("demo"), today))
    engine.dispose()
    port = _free_port()
    wsgi = waitress.create_server(create_app(config), host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    wsgi.close()


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser context (no cookies) with Norwegian as the browser's language."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="nb-NO", base_url=server
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def logged_in(page):
    """A page logged in as the demo nurse, on the worklist."""
    page.goto("/login")
    page.fill("input[name=email]", NURSE[0])
    page.fill("input[name=password]", NURSE[1])
    page.click("form button.primary")
    page.wait_for_url("**/")
    return page

"""The wheel, installed away from the repository, carries everything the program reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TODAY = "2026-06-01"
# Worked example 4 of protocol.md: the 6-month control falls on Maundy Thursday.
MAUNDY_THURSDAY = {"treatments": [{"date": "2025-10-02", "kind": "resection"}]}

pytestmark = pytest.mark.slow


def run(args: list[str], cwd: Path, input: str | None = None, env: dict | None = None) -> str:
    """Run a program to success and return its standard output."""
    done = subprocess.run(
        args,
        check=False,
        cwd=cwd,
        input=input,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from the repository (not an editable install), with the venv's hatchling."""
    dist = tmp_path_factory.mktemp("dist")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
            str(REPO),
        ],
        cwd=dist,
    )
    [built] = dist.glob("surveillance-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A new virtual environment with the wheel installed; dependencies come from this venv."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv)
    python = venv / "bin" / "python"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        cwd=venv,
    )
    # Offline and fast: the dependencies are the ones installed here. A plain path in a .pth
    # file does not run the .pth files beside it, so this venv's editable hook stays out.
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=venv
    )
    (Path(site.strip()) / "deps_from_test_venv.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return venv


@pytest.fixture
def outside(tmp_path) -> Path:
    """A working directory outside the repository."""
    assert REPO not in tmp_path.parents
    return tmp_path


@pytest.fixture
def clean_env(outside) -> dict[str, str]:
    """The environment without this test run's configuration or import path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SURVEILLANCE_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def shipped(folder: str) -> set[str]:
    """The files under a top-level folder of the repository, as the wheel should hold them."""
    root = REPO / folder
    return {
        f"surveillance/{folder}/{p.relative_to(root).as_posix()}"
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_wheel_carries_migrations_protocols_and_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert shipped("migrations") <= names
    assert shipped("templates") <= names
    assert {
        "surveillance/protocol/data/no-hdir-2025.toml",
        "surveillance/protocol/data/no-hdir-2019.toml",
    } <= names
    assert not any(name.startswith(("tests/", "bench/", "instance/")) for name in names)


def test_the_program_runs_from_the_wheel_not_the_repository(venv, outside, clean_env):
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import surveillance.db.migrate as m; print(m.__file__); print(m.migrations_dir())",
        ],
        cwd=outside,
        env=clean_env,
    ).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where


def test_preview_from_the_wheel(venv, outside, clean_env):
    out = run(
        [str(venv / "bin" / "surveillance"), "preview", "-"],
        cwd=outside,
        env=clean_env,
        input=json.dumps(MAUNDY_THURSDAY),
    )
    plan = json.loads(out)
    assert plan["protocol"] == "no-hdir-2025"
    assert len(plan["exams"]) == 16
    assert plan["exams"][0] == {
        "kind": "cea",
        "month": 6,
        "due": "2026-04-02",
        "due_working_day": "2026-04-07",
        "from": "2025-10-02",
        "extra": False,
        "coordinated_with": None,
    }


def test_the_2019_protocol_is_shipped_too(venv, outside, clean_env):
    history = dict(MAUNDY_THURSDAY, protocol="no-hdir-2019")
    plan = json.loads(
        run(
            [str(venv / "bin" / "surveillance"), "preview", "-"],
            cwd=outside,
            env=clean_env,
            input=json.dumps(history),
        )
    )
    assert plan["protocol"] == "no-hdir-2019"
    assert plan["exams"][0]["month"] == 4  # every 4 months in the first year


def test_database_and_demo_from_the_wheel(venv, outside, clean_env):
    config = outside / "config.toml"
    config.write_text(
        f"[patients]\naccept_synthetic_ids = true\n\n"
        f'[database]\nurl = "sqlite:///{outside}/instance/surveillance.db"\n',
        "utf-8",
    )
    env = dict(clean_env, SURVEILLANCE_CONFIG=str(config))
    program = str(venv / "bin" / "surveillance")
    assert run([program, "db", "upgrade"], cwd=outside, env=env) == "database is up to date\n"
    assert run([program, "demo", "--today", TODAY], cwd=outside, env=env) == "DEMO\n"
    out = run([program, "worklist", "--clinic", "DEMO", "--today", TODAY], cwd=outside, env=env)
    assert out.splitlines()[2].startswith("overdue ")
    assert (outside / "instance" / "surveillance.db").is_file()

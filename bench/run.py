"""Run every benchmark script in bench/, or the one named: `run.py [NAME [OPTIONS...]]`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> dict[str, Path]:
    """The benchmark scripts by name: every bench/*.py but this one and the `_` helpers."""
    return {
        p.stem: p
        for p in sorted(HERE.glob("*.py"))
        if p.name != Path(__file__).name and not p.name.startswith("_")
    }


def main(argv: list[str]) -> int:
    available = scripts()
    if not argv:
        return run(available, [])
    if argv[0] in ("-h", "--help"):
        print(__doc__)
        print(f"benchmarks: {', '.join(available)}; the options of one: run.py NAME --help")
        return 0
    if argv[0] not in available:
        # Each script has options of its own: they only make sense with its name.
        print(f"unknown benchmark {argv[0]!r}; there are: {', '.join(available)}", file=sys.stderr)
        return 2
    return run({argv[0]: available[argv[0]]}, argv[1:])


def run(chosen: dict[str, Path], options: list[str]) -> int:
    """Each script in a process of its own, so that its peak memory is its own."""
    failed = []
    for name, path in chosen.items():
        print(f"### {name}", flush=True)
        if subprocess.run([sys.executable, str(path), *options], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

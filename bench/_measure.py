"""Measuring: medians taken in turns, peak memory in a child process, the table of figures."""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
import traceback
import tracemalloc
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the table: our figure, its floor, and the ratio we aim at."""

    measure: str
    ours: float
    floor: float
    unit: str
    aim: float | None = None
    rate: bool = False  # a per-second figure: higher is better, the ratio is floor / ours

    @property
    def ratio(self) -> float:
        """How many times the floor we spend (time or memory)."""
        return self.floor / self.ours if self.rate else self.ours / self.floor


def median_times(ours, floor, repeat: int, warmup: int = 1) -> tuple[float, float]:
    """The median wall times of `ours()` and `floor()` in seconds, run in turns.

    Taking turns puts both under the same load from whatever else the machine runs.
    """
    for _ in range(warmup):
        ours()
        floor()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for run, spent in ((ours, times[0]), (floor, times[1])):
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def maxrss_mb() -> float:
    """The peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(function, *args):
    """Run `function(*args)` in a forked process; return its result and its peak RSS growth.

    A fresh process per load keeps one measurement's memory out of the next one's peak.
    """
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child_end, function, args))
    process.start()
    child_end.close()
    ok, result, growth = parent_end.recv()
    process.join()
    if not ok:
        raise RuntimeError(f"{function.__name__} failed in the child process:\n{result}")
    return result, growth


def _child(pipe, function, args) -> None:
    before = maxrss_mb()  # a forked child starts at its parent's size
    try:
        result = function(*args)
        pipe.send((True, result, maxrss_mb() - before))
    except BaseException:  # noqa: BLE001 - the parent reports the child's failure
        pipe.send((False, traceback.format_exc(), 0.0))
    finally:
        pipe.close()


def traced_peak(function, *args) -> float:
    """The peak of Python allocations (tracemalloc) while `function(*args)` runs, in MB."""
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def print_table(figures: list[Figure]) -> None:
    """The figures, their floors, the ratio and whether it meets the aim."""
    header = ("measure", "ours", "floor", "ratio", "aim")
    rows = [
        (f.measure, _show(f.ours, f.unit), _show(f.floor, f.unit), f"{f.ratio:.2f}x", _aim(f))
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print("\n" + line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def _show(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.1f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.0f} {unit}"


def _aim(figure: Figure) -> str:
    if figure.aim is None:
        return "-"
    verdict = "ok" if figure.ratio <= figure.aim else "MISSED"
    return f"<= {figure.aim:g}x {verdict}"

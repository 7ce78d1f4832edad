"""The CEA values of a patient as an SVG line chart against the upper limit (no script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT, PAD = 640, 200, 32


@dataclass(frozen=True, slots=True)
class Point:
    """One CEA value placed on the chart."""

    x: float
    y: float
    day: date
    value: float
    high: bool


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the template draws: points, the limit's height and the axis labels."""

    points: tuple[Point, ...]
    limit_y: float
    top_value: float
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def cea_chart(values: list[tuple[date, float]], limit: float) -> Chart | None:
    """Place (date, value) pairs on the chart; None when there is nothing to draw."""
    if not values:
        return None
    values = sorted(values)
    first, last = values[0][0], values[-1][0]
    span = max((last - first).days, 1)
    top = max(*(v for _, v in values), limit) * 1.15

    def y(value: float) -> float:
        return HEIGHT - PAD - (value / top) * (HEIGHT - 2 * PAD)

    def x(day: date) -> float:
        if len(values) == 1:
            return WIDTH / 2
        return PAD + (day - first).days / span * (WIDTH - 2 * PAD)

    points = tuple(Point(x(d), y(v), d, v, v > limit) for d, v in values)
    return Chart(points, y(limit), round(top, 1))

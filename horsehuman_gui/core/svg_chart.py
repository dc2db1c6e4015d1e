"""Line charts as inline SVG: small, exact, printable, and no plotting library to install.

Used by ``core.report``; the x axis counts epochs from 1, the y axis runs from 0 to a top.
"""

from __future__ import annotations

import html
import math
from typing import Sequence


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def finite(value) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite."""
    return float(value) if value is not None and math.isfinite(float(value)) else None


def nice_top(value: float) -> float:
    """The round number (1, 2, 2.5 or 5 times a power of ten) at or above ``value``."""
    if value <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return factor * step
    return 10 * step


def line_chart(title: str, series: Sequence[tuple[str, Sequence, str]], top: float,
               width: int = 440, height: int = 240) -> str:
    """An inline SVG chart: epochs 1..N along x, 0..``top`` up y; ``series`` are (label,
    values (None = no point), colour). Each series is one ``<polyline>`` per unbroken run."""
    left, right, upper, lower = 48, 12, 28, 34
    count = max((len(values) for _, values, _ in series), default=0)
    plot_w, plot_h = width - left - right, height - upper - lower

    def x(i):  # epoch index (0-based) -> pixels
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v):
        return upper + plot_h * (1 - min(max(v / top, 0), 1))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{_e(title)}</text>']
    for k in range(5):
        value = top * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#e3e3e3"/><text x="{left - 6}" '
                     f'y="{y(value) + 4:.1f}" font-size="10" text-anchor="end">{value:g}</text>')
    ticks = sorted({0, count - 1, *range(0, count, max(1, math.ceil(count / 8)))}) if count \
        else []
    for i in ticks:
        parts.append(f'<text x="{x(i):.1f}" y="{height - lower + 14}" font-size="10" '
                     f'text-anchor="middle">{i + 1}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" font-size="10" '
                 'text-anchor="middle">epoch</text>')
    for number, (label, values, colour) in enumerate(series):
        parts += _polylines(values, colour, x, y)
        lx = left + 8 + number * 110
        parts.append(f'<rect x="{lx}" y="{upper + 2}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{upper + 11}" font-size="11">{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _polylines(values, colour, x, y) -> list[str]:
    runs, current, shapes = [], [], []
    for i, value in enumerate(values):
        value = finite(value)
        if value is None:
            runs, current = runs + ([current] if current else []), []
            continue
        current.append((x(i), y(value)))
    runs += [current] if current else []
    for run in runs:
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
        shapes.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                      f'points="{points}"/>')
        shapes += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>'
                   for px, py in run]
    return shapes

"""Small PNG line charts for alert emails, where no JavaScript runs."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

LINE = (31, 111, 235)
BASELINE = (95, 107, 122)
BAND = (221, 234, 253)
LAST = (207, 34, 46)
AXIS = (216, 222, 230)


def series_png(
    values: Sequence[float],
    lows: Sequence[float | None] | None = None,
    highs: Sequence[float | None] | None = None,
    baseline: float | None = None,
    width: int = 480,
    height: int = 160,
) -> bytes:
    """A line of ``values`` (oldest first) over its CI band, a dashed baseline, and the newest
    point marked; the y axis spans the data, so small drifts are visible."""
    if not values:
        raise ValueError("nothing to draw")
    lows = lows or [None] * len(values)
    highs = highs or [None] * len(values)
    span_values = [v for v in (*values, *lows, *highs, baseline) if v is not None]
    top, bottom = max(span_values), min(span_values)
    if top == bottom:
        top, bottom = top + 1, bottom - 1
    pad = 12

    def x(index: int) -> float:
        return pad + (width - 2 * pad) * (index / max(1, len(values) - 1))

    def y(value: float) -> float:
        return pad + (height - 2 * pad) * (top - value) / (top - bottom)

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([pad, pad, width - pad, height - pad], outline=AXIS)
    band = [
        (i, lo, hi)
        for i, (lo, hi) in enumerate(zip(lows, highs, strict=True))
        if lo is not None and hi is not None
    ]
    if len(band) >= 2:
        outline = [(x(i), y(hi)) for i, _, hi in band] + [
            (x(i), y(lo)) for i, lo, _ in reversed(band)
        ]
        draw.polygon(outline, fill=BAND)
    if baseline is not None:
        for start in range(pad, width - pad, 10):
            draw.line(
                [(start, y(baseline)), (min(start + 5, width - pad), y(baseline))], fill=BASELINE
            )
    points = [(x(i), y(v)) for i, v in enumerate(values)]
    if len(points) > 1:
        draw.line(points, fill=LINE, width=2)
    last_x, last_y = points[-1]
    draw.ellipse([last_x - 4, last_y - 4, last_x + 4, last_y + 4], fill=LAST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def comparison_png(
    bars: Sequence[tuple[str, float, float | None, float | None]],
    width: int = 480,
    height: int = 160,
) -> bytes:
    """Runs side by side, each ``(label, value, ci_low, ci_high)``: its 95% CI as a whisker
    with caps and its value as a dot, labelled underneath; the last one (the run the alert is
    about) in red, the others grey. The y axis spans the values and CIs, like ``series_png``."""
    if not bars:
        raise ValueError("nothing to draw")
    span_values = [v for _, *figures in bars for v in figures if v is not None]
    top, bottom = max(span_values), min(span_values)
    if top == bottom:
        top, bottom = top + 1, bottom - 1
    pad, label_room = 12, 16
    top, bottom = top + (top - bottom) * 0.05, bottom - (top - bottom) * 0.05

    def y(value: float) -> float:
        return pad + (height - 2 * pad - label_room) * (top - value) / (top - bottom)

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([pad, pad, width - pad, height - pad - label_room], outline=AXIS)
    step = (width - 2 * pad) / len(bars)
    for index, (label, value, low, high) in enumerate(bars):
        colour = LAST if index == len(bars) - 1 else BASELINE
        centre = pad + step * (index + 0.5)
        if low is not None and high is not None:
            draw.line([(centre, y(low)), (centre, y(high))], fill=colour, width=2)
            for end in (low, high):
                draw.line([(centre - 8, y(end)), (centre + 8, y(end))], fill=colour, width=2)
        draw.ellipse([centre - 5, y(value) - 5, centre + 5, y(value) + 5], fill=colour)
        draw.text((centre + 12, y(value) - 6), f"{value:.4g}", fill=colour)
        text_width = draw.textlength(label)
        draw.text((centre - text_width / 2, height - pad - label_room + 4), label, fill=BASELINE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()

"""Template filters for figures: metric values, signed changes, shares and sparklines."""

from collections.abc import Sequence

from django import template

register = template.Library()

SPARKLINE_WIDTH, SPARKLINE_HEIGHT = 80, 20
# Identical outputs give distances like -3.8e-16: float noise that reads as a figure.
ZERO_NOISE = 1e-12


@register.filter
def figure(value: float | None, digits: int = 3) -> str:
    """A metric value to ``digits`` significant digits; an em dash when there is none."""
    if value is None:
        return "—"
    if abs(value) < ZERO_NOISE:
        value = 0.0
    return f"{value:.{digits}g}"


@register.filter
def signed(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}g}".replace("-", "−")


@register.filter
def signed_percent(value: float | None) -> str:
    if value is None:
        return ""
    return f"{100 * value:+.1f}%".replace("-", "−")


@register.filter
def share_with_ci(share: dict | None) -> str:
    """A count's share in percent with its 95% interval: "12 (30.0%, 95% CI 25.1–35.4%)"."""
    if not share or share.get("share") is None:
        return "—"
    return (
        f"{share['count']} ({100 * share['share']:.1f}%, "
        f"95% CI {100 * share['ci_low']:.1f}–{100 * share['ci_high']:.1f}%)"
    )


@register.filter
def sparkline(values: Sequence[float]) -> str:
    """SVG polyline points for ``values`` (oldest first), scaled to fill the sparkline box;
    drawn on the server so that the overview needs no script for its many small charts."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = SPARKLINE_WIDTH / (len(values) - 1)
    # One pixel of margin top and bottom, so the line's stroke is not clipped at the extremes.
    scale = (SPARKLINE_HEIGHT - 2) / span
    return " ".join(
        f"{index * step:.1f},{SPARKLINE_HEIGHT - 1 - (value - low) * scale:.1f}"
        for index, value in enumerate(values)
    )

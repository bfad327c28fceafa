"""The speed targets of ``make bench``: each a figure measured against a reference measured in the
same run, so the verdict holds on a loaded or slower machine, where absolute times would not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """One line of the table: ``measured`` against ``reference`` (both in ``unit``), and whether
    their ratio meets ``goal``."""

    name: str
    measured: float
    reference: float
    unit: str
    reference_name: str
    goal: str
    passed: bool

    @property
    def ratio(self) -> float:
        return self.measured / self.reference if self.reference else float("inf")


def at_most(
    name: str, measured: float, reference: float, limit: float, unit: str, reference_name: str
) -> Target:
    """A target met when ``measured`` is at most ``limit`` times ``reference`` (times, memory)."""
    passed = measured <= limit * reference
    return Target(name, measured, reference, unit, reference_name, f"≤ {limit:g}×", passed)


def at_least(
    name: str, measured: float, reference: float, limit: float, unit: str, reference_name: str
) -> Target:
    """A target met when ``measured`` is at least ``limit`` times ``reference`` (throughputs)."""
    passed = measured >= limit * reference
    return Target(name, measured, reference, unit, reference_name, f"≥ {limit:g}×", passed)


def timed(function: Callable[[], T]) -> tuple[T, float]:
    """``function()`` and the seconds it took."""
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def best_of(function: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` timings of ``function()``: the least disturbed by other work."""
    return min(timed(function)[1] for _ in range(repeats))


def _figure(value: float, unit: str) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def render(targets: Iterable[Target]) -> str:
    """The targets as one Markdown table."""
    lines = [
        "| target | measured | reference | ratio | goal | result |",
        "|---|---:|---|---:|---:|---|",
    ]
    for target in targets:
        lines.append(
            f"| {target.name} | {_figure(target.measured, target.unit)} "
            f"| {target.reference_name}: {_figure(target.reference, target.unit)} "
            f"| {target.ratio:.3g}× | {target.goal} | {'PASS' if target.passed else 'MISS'} |"
        )
    return "\n".join(lines)

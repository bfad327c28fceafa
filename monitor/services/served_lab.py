"""The lab the app serves: the default config, cached under ``VAR_DIR/lab``, one per process, and
which of its generations a model id names."""

from __future__ import annotations

import functools

from django.conf import settings
from django.db.models import Count, Max, Q

from lab import MAX_GENERATION, Arm, Lab, LabConfig, parse_drifting_model_id, parse_model_id
from monitor.models import FINISHED_RUN_STATUSES, Endpoint


@functools.cache
def served_lab() -> Lab:
    """The process's lab; its generations are trained on first use, or read from disk."""
    return Lab(LabConfig(), settings.VAR_DIR / "lab")


def served_generation(model_id: str) -> tuple[Arm, int] | None:
    """The arm and generation a request for ``model_id`` is answered by; None for an id that
    names no lab model. A fixed id ("lab-pure-g3") names its generation; a drifting one
    ("lab-truncated-drift") serves the generation after the last one its endpoint ran."""
    fixed = parse_model_id(model_id)
    if fixed is not None:
        return fixed
    arm = parse_drifting_model_id(model_id)
    return None if arm is None else (arm, drifting_generation(model_id))


def drifting_generation(model_id: str) -> int:
    """The generation a drifting model serves now: as many as its endpoint's finished runs, so
    each run gets the next generation (every request of a run the same one, since the run
    itself is not finished while it samples), up to the chain's last. The runs are counted on
    the endpoint of this model id with the most of them, should several share it."""
    finished = Count("runs", filter=Q(runs__status__in=FINISHED_RUN_STATUSES))
    runs = Endpoint.objects.filter(model=model_id).annotate(finished=finished)
    return min(runs.aggregate(most=Max("finished"))["most"] or 0, MAX_GENERATION)

"""The lab the app serves: the default config, cached under ``VAR_DIR/lab``, one per process."""

from __future__ import annotations

import functools

from django.conf import settings

from lab import Lab, LabConfig


@functools.cache
def served_lab() -> Lab:
    """The process's lab; its generations are trained on first use, or read from disk."""
    return Lab(LabConfig(), settings.VAR_DIR / "lab")

"""Tailwatch's Django side: endpoints, runs, samples and the pipeline that fills them."""

from .celery import app as celery_app

__all__ = ["celery_app"]

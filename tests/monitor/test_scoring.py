"""Scoring runs into metric points: what is stored, re-scoring, baselines, embeddings."""

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from monitor.celery import app as celery_app
from monitor.celery import keep_concurrency
from monitor.models import MetricPoint, Run, RunStatus
from monitor.services import baselines, scoring
from tests.factories import english_texts, make_endpoint, make_finished_run, make_prompt_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(settings):
    settings.TAILWATCH_EMBEDDINGS = False
    return make_endpoint(
        "http://127.0.0.1:9/v1",
        prompt_set=make_prompt_set(open_prompts=12, probes=6),
        samples_per_prompt=3,
    )


def test_a_run_is_scored_into_one_point_per_metric(endpoint):
    run = make_finished_run(endpoint, english_texts(1, 2000, 18, 3))
    run = scoring.score_run(run.pk)

    points = {p.metric: p for p in MetricPoint.objects.filter(run=run)}
    assert set(points) == set(run.report["metrics"])
    assert {"distinct_2", "self_bleu", "rare_entity_accuracy", "accuracy_tail"} <= set(points)
    distinct = points["distinct_2"]
    assert distinct.ci_low <= distinct.value <= distinct.ci_high
    assert distinct.time == run.finished_at and distinct.endpoint == endpoint
    assert run.report["metrics"]["distinct_2"]["value"] == distinct.value
    assert len(run.report["prompts"]) == 18


def test_rescoring_replaces_the_points(endpoint):
    run = make_finished_run(endpoint, english_texts(1, 2000, 18, 3))
    first = dict(
        MetricPoint.objects.filter(run=scoring.score_run(run.pk)).values_list("metric", "value")
    )
    second = dict(
        MetricPoint.objects.filter(run=scoring.score_run(run.pk)).values_list("metric", "value")
    )
    assert first == second
    assert MetricPoint.objects.filter(run=run).count() == len(first)


def test_failed_samples_are_left_out_and_a_failed_run_is_not_scored(endpoint):
    run = make_finished_run(endpoint, english_texts(1, 2000, 18, 3)[:5])
    assert run.status == RunStatus.SUCCEEDED  # the other prompts were simply never sampled
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    with pytest.raises(scoring.RunNotScorableError):
        scoring.score_run(run.pk)


def test_the_baseline_is_pinned_or_a_window_of_good_runs_back(endpoint):
    runs = [
        scoring.score_run(make_finished_run(endpoint, english_texts(i, 2000, 18, 3)).pk)
        for i in range(4)
    ]
    endpoint.baseline_window = 2
    endpoint.save()
    assert baselines.baseline_for(runs[0]) is None
    assert baselines.baseline_for(runs[1]) == runs[0]
    assert baselines.baseline_for(runs[3]) == runs[1]
    endpoint.baseline_run = runs[0]
    endpoint.save()
    assert baselines.baseline_for(Run.objects.get(pk=runs[3].pk)) == runs[0]


def test_embeddings_are_computed_once_and_stored(settings):
    settings.TAILWATCH_EMBEDDINGS = True
    endpoint = make_endpoint("http://127.0.0.1:9/v1", samples_per_prompt=2)
    run = make_finished_run(endpoint, english_texts(3, 500, 3, 2))
    run = scoring.score_run(run.pk)
    stored = [np.frombuffer(s.embedding, dtype=np.float32) for s in run.samples.all()]
    assert len(stored) == 6 and all(v.shape == (384,) for v in stored)
    assert "embedding_diversity_within" in run.report["metrics"]

    scoring.encoder.cache_clear()
    settings.TAILWATCH_EMBEDDING_MODEL = "/nonexistent/model"  # would fail if it were loaded
    assert (
        scoring.score_run(run.pk).report["metrics"]["embedding_diversity_within"]
        == (run.report["metrics"]["embedding_diversity_within"])
    )
    scoring.encoder.cache_clear()


def test_a_new_version_is_compared_with_its_baseline_endpoint(endpoint):
    old_version = scoring.score_run(make_finished_run(endpoint, english_texts(1, 2000, 18, 3)).pk)
    new_endpoint = make_endpoint(
        "http://127.0.0.1:9/v1",
        name="model-a-v2",
        prompt_set=endpoint.prompt_set,
        samples_per_prompt=3,
        baseline_endpoint=endpoint,
    )
    first = scoring.score_run(make_finished_run(new_endpoint, english_texts(2, 300, 18, 3)).pk)
    assert baselines.baseline_for(first) == old_version
    # The blandness index of the new version is measured from the old version's first run,
    # so a blander version reads above 0 from its very first run.
    assert baselines.blandness_reference(first) == old_version
    assert first.report["metrics"]["blandness_index"]["value"] > 0
    assert old_version.report["metrics"]["blandness_index"]["value"] == 0


def test_the_workers_encoder_takes_the_device_and_threads_settings(settings, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    settings.TAILWATCH_EMBEDDING_DEVICE, settings.TAILWATCH_TORCH_THREADS = "cuda", 3
    scoring.encoder.cache_clear()
    try:
        assert (scoring.encoder().device, scoring.encoder().threads) == ("cuda", 3)
    finally:
        scoring.encoder.cache_clear()


@pytest.mark.parametrize(("concurrency", "threads"), [(None, 8), (2, 4), (3, 2), (16, 1)])
def test_torch_threads_default_to_one_tasks_share_of_the_cores(
    settings, monkeypatch, concurrency, threads
):
    settings.TAILWATCH_TORCH_THREADS = 0
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setitem(celery_app.conf, "worker_concurrency", concurrency)
    assert scoring.torch_threads() == threads


@pytest.mark.parametrize(("concurrency", "kept"), [(3, 3), ("auto", 8)])
def test_a_starting_worker_keeps_its_concurrency_for_its_tasks(monkeypatch, concurrency, kept):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setitem(celery_app.conf, "worker_concurrency", None)
    keep_concurrency(SimpleNamespace(concurrency=concurrency, app=celery_app))
    assert celery_app.conf.worker_concurrency == kept


def test_a_cuda_device_missing_on_the_worker_is_said_on_the_run(settings, monkeypatch):
    settings.TAILWATCH_EMBEDDINGS, settings.TAILWATCH_EMBEDDING_DEVICE = True, "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    endpoint = make_endpoint("http://127.0.0.1:9/v1", samples_per_prompt=2)
    run = make_finished_run(endpoint, english_texts(3, 500, 3, 2))
    scoring.encoder.cache_clear()
    try:
        with pytest.raises(scoring.RunNotScorableError):
            scoring.score_run(run.pk)
    finally:
        scoring.encoder.cache_clear()
    assert "torch finds no CUDA device" in Run.objects.get(pk=run.pk).score_error

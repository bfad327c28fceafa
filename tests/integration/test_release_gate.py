"""The release gate end to end on real Celery workers and the fake model server: register a
new version against its baseline through the API, run it, poll its verdict; and the same
from `manage.py gate --trigger --wait`, which exits 1 when the version regressed."""

import pytest
from django.core.management import call_command
from django.test import Client

from monitor.models import ApiToken
from tests.conftest import run_through_pipeline, wait_for
from tests.factories import make_endpoint, make_prompt_set, make_user
from tests.integration.conftest import FAST_WORKER, collapsed_reply

pytestmark = [pytest.mark.integration]


def test_a_new_version_is_gated_through_the_api_and_the_gate_command(
    celery_processes, fake_llm, capsys
):
    prompt_set = make_prompt_set(open_prompts=20, probes=0)
    baseline = make_endpoint(fake_llm.url, name="v1", prompt_set=prompt_set, samples_per_prompt=3)
    celery_processes.worker(**FAST_WORKER)
    run_through_pipeline(baseline)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(make_user('editor'))}")

    created = api.post(
        "/api/endpoints/",
        {
            "name": "v2",
            "model_family": baseline.model_family,
            "version_label": "v2",
            "base_url": fake_llm.url,
            "model": "fake",
            "prompt_set": prompt_set.pk,
            "samples_per_prompt": 3,
            "baseline_endpoint": baseline.pk,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    version = created.json()["id"]
    for rule in api.get("/api/rules/", {"page_size": 500}).json()["results"]:
        if rule["endpoint"] == version:
            assert api.delete(f"/api/rules/{rule['id']}/").status_code == 204
    rule = {"endpoint": version, "kind": "drop", "metric": "distinct_2", "severity": "critical"}
    assert api.post("/api/rules/", rule, content_type="application/json").status_code == 201

    run = api.post(f"/api/endpoints/{version}/run/").json()["id"]

    def judged():
        """the verdict on the new version's run is no longer pending"""
        body = api.get(f"/api/runs/{run}/verdict/").json()
        return body if body["state"] != "pending" else None

    verdict = wait_for(judged, timeout=120, interval=0.5)
    assert verdict["state"] == "pass", verdict
    assert verdict["baseline_run"] == baseline.runs.get().pk
    assert verdict["links"]["compare"].endswith(f"a={verdict['baseline_run']}&b={run}")

    fake_llm.behaviour.reply = collapsed_reply
    with pytest.raises(SystemExit) as gate:
        call_command("gate", "--endpoint", "v2", "--trigger", "--wait", "--poll", "0.5")
    assert gate.value.code == 1
    printed = capsys.readouterr().out
    assert "sampling (" in printed and "REGRESSED [critical] distinct_2" in printed

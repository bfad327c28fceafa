"""The REST API's resources: what each route reads and writes, through the same checks as the
pages, and a clear 400 (never a 500) for bad input."""

import pytest
from django.test import Client

from monitor.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    ApiToken,
    Channel,
    Endpoint,
    EventKind,
    PromptSet,
)
from tests.factories import make_endpoint, make_prompt_set, make_scored_run, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(make_user('editor'))}")


@pytest.fixture
def scored(settings, unused_port):
    """An endpoint with two scored runs."""
    settings.TAILWATCH_EMBEDDINGS = False
    endpoint = make_endpoint(f"http://127.0.0.1:{unused_port}/v1")
    return endpoint, [make_scored_run(endpoint, seed=s, vocabulary=2000) for s in (1, 2)]


def new_endpoint(**fields) -> dict:
    body = {
        "name": "v2",
        "model_family": "family",
        "version_label": "v2",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "m",
        "prompt_set": make_prompt_set().pk,
    }
    return {**body, **fields}


def test_a_new_version_is_registered_with_its_baseline_and_a_write_only_key(api):
    baseline = make_endpoint("http://127.0.0.1:9/v1", name="v1")
    response = api.post(
        "/api/endpoints/",
        new_endpoint(baseline_endpoint=baseline.pk, api_key="sk-secret"),
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "api_key" not in body and body["api_key_source"] == "stored, encrypted"
    endpoint = Endpoint.objects.get(pk=body["id"])
    assert endpoint.baseline_endpoint == baseline and endpoint.get_api_key() == "sk-secret"
    assert AlertRule.objects.filter(endpoint=endpoint).exists()  # the default rules


def test_endpoint_writes_answer_the_forms_messages(api):
    too_deep = api.post("/api/endpoints/", "[" * 100_000, content_type="application/json")
    assert too_deep.status_code == 400 and "nested too deeply" in too_deep.json()["detail"]
    reserved = api.post(
        "/api/endpoints/",
        new_endpoint(extra_params={"model": "other"}),
        content_type="application/json",
    )
    assert reserved.status_code == 400
    assert "may not set model" in reserved.json()["extra_params"][0]
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    itself = api.patch(
        f"/api/endpoints/{endpoint.pk}/",
        {"baseline_endpoint": endpoint.pk},
        content_type="application/json",
    )
    assert itself.status_code == 400 and "baseline_endpoint" in itself.json()
    kept = api.patch(
        f"/api/endpoints/{endpoint.pk}/", {"max_tokens": 64}, content_type="application/json"
    )
    assert kept.status_code == 200 and kept.json()["name"] == endpoint.name
    endpoint.refresh_from_db()
    assert endpoint.max_tokens == 64


def test_run_now_queues_a_run_once(api, enqueued, django_capture_on_commit_callbacks):
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"/api/endpoints/{endpoint.pk}/run/")
    assert first.status_code == 201 and first.json()["stage"] == "sampling"
    assert enqueued == [("monitor.tasks.sample_run", [first.json()["id"]])]
    again = api.post(f"/api/endpoints/{endpoint.pk}/run/")
    assert again.status_code == 409 and "already running" in again.json()["detail"]


def test_a_prompt_file_uploads_as_the_next_version_and_a_bad_one_imports_nothing(api, tmp_path):
    good = tmp_path / "probes.jsonl"
    good.write_text('{"id": "a", "text": "Hello?"}\n{"id": "b", "text": "Why?"}\n')
    with good.open("rb") as file:
        response = api.post("/api/prompt-sets/upload/", {"name": "probes", "file": file})
    assert response.status_code == 201, response.json()
    assert response.json()["number"] == 1 and response.json()["prompt_count"] == 2
    prompt_set = PromptSet.objects.get(name="probes")
    assert api.get(f"/api/prompt-sets/{prompt_set.pk}/versions/").json()["count"] == 1
    prompts = api.get(f"/api/prompt-sets/{prompt_set.pk}/prompts/?version=1").json()
    assert [row["key"] for row in prompts["results"]] == ["a", "b"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\nnot json\n')
    with bad.open("rb") as file:
        refused = api.post("/api/prompt-sets/upload/", {"name": "probes", "file": file})
    assert refused.status_code == 400 and len(refused.json()["file"]) == 2
    assert prompt_set.versions.count() == 1


def test_runs_filter_and_page_and_refuse_malformed_filters(api, scored):
    endpoint, runs = scored
    listed = api.get(f"/api/runs/?endpoint={endpoint.pk}&status=succeeded&page_size=1").json()
    assert listed["count"] == 2 and [row["id"] for row in listed["results"]] == [runs[1].pk]
    assert listed["next"]
    assert api.get("/api/runs/?status=bogus").status_code == 400
    assert api.get("/api/runs/?endpoint=abc").status_code == 400
    detail = api.get(f"/api/runs/{runs[0].pk}/").json()
    assert {"metric", "value", "ci_low", "ci_high", "n"} <= detail["metrics"][0].keys()
    samples = api.get(f"/api/runs/{runs[0].pk}/samples/?page_size=2").json()
    assert samples["count"] == runs[0].samples.count() and len(samples["results"]) == 2


def test_a_series_comes_as_json_or_csv_and_bad_ranges_are_400(api, scored):
    endpoint, runs = scored
    url = f"/api/endpoints/{endpoint.pk}/series/"
    body = api.get(url, {"metric": "distinct_2"}).json()
    assert [point["run"] for point in body["points"]] == [run.pk for run in runs]
    csv = api.get(url, {"metric": "distinct_2", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0] == "time,value,low,high,count,run" and len(lines) == 3
    bucketed = api.get(url, {"metric": "distinct_2", "max_points": 1}).json()["points"]
    assert len(bucketed) == 1 and bucketed[0]["count"] == 2
    assert api.get(url, {"metric": "nope"}).status_code == 400
    assert api.get(url, {"metric": "distinct_2", "max_points": 0}).status_code == 400
    bad_start = api.get(url, {"metric": "distinct_2", "start": "yesterday", "format": "csv"})
    assert bad_start.status_code == 400 and "start" in bad_start.json()


@pytest.mark.parametrize(
    "path", ["/api/endpoints/99999999999999999999/", "/api/nothing-here/", "/api/runs/1/nope/"]
)
def test_a_path_no_api_route_matches_is_a_json_404(api, path):
    missing = api.get(path)
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


def test_a_page_not_found_is_still_html(user_client):
    missing = user_client.get("/nothing-here/")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "name, moment", [("start", "0001-01-01T00:00:00+14:00"), ("end", "9999-12-31T23:59:59-14:00")]
)
def test_a_series_bound_beyond_the_years_utc_can_hold_is_400(api, scored, name, moment):
    endpoint, _ = scored
    url = f"/api/endpoints/{endpoint.pk}/series/"
    refused = api.get(url, {"metric": "distinct_2", name: moment})
    assert refused.status_code == 400 and "out of range" in str(refused.json()[name])


def test_alerts_are_acknowledged_and_silenced_through_the_services(api, scored):
    endpoint, _ = scored
    alert = Alert.objects.create(
        rule=endpoint.alert_rules.first(), endpoint=endpoint, state=AlertState.FIRING, summary="s"
    )
    assert api.get("/api/alerts/").json()["count"] == 1
    assert api.get("/api/alerts/?state=resolved").json()["count"] == 0
    assert api.post(f"/api/alerts/{alert.pk}/acknowledge/").json()["acknowledged_at"]
    assert api.post(f"/api/alerts/{alert.pk}/silence/", {"hours": 0}).status_code == 400
    silenced = api.post(f"/api/alerts/{alert.pk}/silence/", {"hours": 4})
    assert silenced.status_code == 200 and silenced.json()["silenced_until"]
    kinds = set(AlertEvent.objects.filter(alert=alert).values_list("kind", flat=True))
    assert kinds == {EventKind.ACKNOWLEDGED, EventKind.SILENCED}


def test_rules_and_channels_are_checked_as_in_the_pages(api):
    no_threshold = api.post(
        "/api/rules/",
        {"kind": "threshold", "metric": "distinct_2", "severity": "warning"},
        content_type="application/json",
    )
    assert no_threshold.status_code == 400 and "threshold" in no_threshold.json()
    admin = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(make_user('admin'))}")
    metadata = admin.post(
        "/api/channels/",
        {"name": "hook", "kind": "webhook", "target": "http://169.254.169.254/latest"},
        content_type="application/json",
    )
    assert metadata.status_code == 400 and "target" in metadata.json()
    ok = admin.post(
        "/api/channels/",
        {"name": "ops", "kind": "email", "target": "ops@example.org"},
        content_type="application/json",
    )
    assert ok.status_code == 201
    down = api.post(
        "/api/rules/",
        {"kind": "down", "metric": "", "window_runs": 2, "channels": [ok.json()["id"]]},
        content_type="application/json",
    )
    assert down.status_code == 201, down.json()
    assert list(AlertRule.objects.get(pk=down.json()["id"]).channels.all()) == [
        Channel.objects.get(name="ops")
    ]


def test_two_runs_compare_with_their_stored_values_and_cis(api, scored):
    _, runs = scored
    body = api.get("/api/compare/", {"by": "run", "a": runs[0].pk, "b": runs[1].pk}).json()
    row = next(row for row in body["metrics"] if row["metric"] == "distinct_2")
    assert row["a"]["value"] == runs[0].report["metrics"]["distinct_2"]["value"]
    assert row["b"]["ci_low"] == runs[1].report["metrics"]["distinct_2"]["ci_low"]
    missing = api.get("/api/compare/", {"by": "run", "a": runs[0].pk, "b": 999999})
    assert missing.status_code == 400 and "No run" in missing.json()["detail"]
    assert api.get("/api/compare/", {"by": "run", "a": "x", "b": "1"}).status_code == 400


def test_the_docs_page_loads_swagger_ui_from_this_site(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/runs/{id}/verdict/" in schema.content

"""The pages users rely on, through Django's test client: login, endpoints, runs, uploads."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from monitor.clients.openai_compatible import Completion, CompletionFailure
from monitor.models import Endpoint, PromptSet, RunStatus
from monitor.services import sampling
from tests.factories import make_endpoint, make_prompt_set

pytestmark = pytest.mark.django_db

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


@pytest.fixture
def user_client(client):
    client.force_login(User.objects.create_user("ops", password="pw-long-enough"))
    return client


def test_pages_need_a_login(client):
    response = client.get(reverse("endpoint-list"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_empty_install_says_what_to_do_next(user_client):
    page = user_client.get(reverse("endpoint-list")).content.decode()
    assert "No endpoints yet" in page and reverse("endpoint-create") in page


def test_the_endpoint_list_shows_the_last_run(user_client, fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    run = sampling.sample_run(sampling.start_run(endpoint).pk)
    page = user_client.get(reverse("endpoint-list")).content.decode()
    assert endpoint.name in page and run.get_absolute_url() in page and "Succeeded" in page


def test_a_run_page_shows_outputs_escaped_and_errors(user_client):
    run = sampling.start_run(make_endpoint("http://127.0.0.1:9/v1"))
    first, second = run.prompt_set_version.prompts.all()[:2]
    sampling.record_sample(run, first, 0, Completion(HOSTILE, "stop", 3, 9, 120, 1))
    sampling.record_sample(
        run, second, 0, CompletionFailure("HTTP 500", "HTTP 500 from x: <b>boom</b>", 4, 900, True)
    )
    page = user_client.get(run.get_absolute_url()).content.decode()
    assert HOSTILE not in page and "<b>boom</b>" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "after 4 attempts" in page


def test_adding_an_endpoint_through_the_form(user_client):
    prompt_set = make_prompt_set()
    response = user_client.post(
        reverse("endpoint-create"),
        {
            "name": "vllm-prod",
            "model_family": "support",
            "version_label": "v3",
            "provider_kind": "chat",
            "base_url": "http://vllm:8000/v1",
            "model": "support-13b",
            "api_key": "sk-never-shown",
            "prompt_set": prompt_set.pk,
            "samples_per_prompt": 5,
            "interval_minutes": 30,
            "temperature": 0.8,
            "top_p": 1,
            "max_tokens": 200,
            "extra_params": "{}",
            "concurrency": 4,
            "timeout_seconds": 60,
            "enabled": "on",
        },
    )
    endpoint = Endpoint.objects.get(name="vllm-prod")
    assert response.status_code == 302 and response["Location"] == endpoint.get_absolute_url()
    detail = user_client.get(endpoint.get_absolute_url()).content.decode()
    edit = user_client.get(reverse("endpoint-edit", args=[endpoint.pk])).content.decode()
    assert "sk-never-shown" not in detail + edit
    assert "stored, encrypted" in detail and "No runs yet" in detail


def test_run_now_pause_and_resume(user_client, fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    user_client.post(reverse("endpoint-run-now", args=[endpoint.pk]))
    assert endpoint.runs.get().status == RunStatus.QUEUED
    response = user_client.post(reverse("endpoint-run-now", args=[endpoint.pk]), follow=True)
    assert "already running" in response.content.decode()

    user_client.post(reverse("endpoint-toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    user_client.post(reverse("endpoint-toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_run_progress_is_served_as_json(user_client, fake_llm):
    run = sampling.start_run(make_endpoint(fake_llm.url))
    progress = user_client.get(reverse("run-progress", args=[run.pk])).json()
    assert progress == {
        "status": "queued",
        "active": True,
        "done": 0,
        "expected": 6,
        "failed": 0,
        "percent": 0,
    }


def test_uploading_a_prompt_set_and_seeing_row_errors(user_client):
    good = b'{"id": "a", "text": "Hello?"}\n{"id": "b", "text": "Capital?", "gold": ["X"]}\n'
    response = user_client.post(
        reverse("promptset-list"), {"name": "mine", "file": _upload("p.jsonl", good)}
    )
    prompt_set = PromptSet.objects.get(name="mine")
    assert response["Location"] == prompt_set.get_absolute_url()
    page = user_client.get(prompt_set.get_absolute_url()).content.decode()
    assert "Capital?" in page and "1 open, 1 probe" in page

    bad = b'{"id": "a", "text": ""}\n{"id": "b", "text": "<i>Q</i>", "kind": "probe"}\n'
    response = user_client.post(
        reverse("promptset-list"), {"name": "mine", "file": _upload("p.jsonl", bad)}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "line 1: &#x27;text&#x27; is missing or empty" in page
    assert "line 2: a probe needs at least one &#x27;gold&#x27; answer" in page
    assert prompt_set.versions.count() == 1


def test_healthz_reports_the_database(client):
    assert client.get("/healthz").json()["ok"] is True


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def family(settings):
    """Two versions of a family sampled from fake models; v2 collapsed in its second run."""
    from tests.browser import scenario

    settings.TAILWATCH_EMBEDDINGS = False
    with scenario.FakeModels() as models:
        yield scenario.build(models)


def test_the_overview_shows_latest_values_and_flags_the_firing_signs(user_client, family):
    page = user_client.get(reverse("endpoint-list")).content.decode()
    latest = family.collapsed_runs[-1].report["metrics"]["distinct_2"]["value"]
    assert "Open alerts" in page and f">{latest:.3g}<" in page
    assert 'class="num cell state-firing" data-metric="distinct_2"' in page
    assert page.count('<svg class="sparkline"') >= 8


def test_the_endpoint_page_embeds_downsampled_series_for_its_charts(user_client, family):
    response = user_client.get(family.collapsed.get_absolute_url() + "?range=7d")
    charts = {chart["metric"]: chart for chart in response.context["charts"]}
    distinct = charts["distinct_2"]
    assert [len(distinct["series"][0]["t"]), distinct["baseline"]] == [
        2,
        family.collapsed_runs[0].report["metrics"]["distinct_2"]["value"],
    ]
    assert [marker["kind"] for marker in distinct["markers"]] == ["fired"]
    assert 'id="endpoint-charts" type="application/json"' in response.content.decode()
    assert user_client.get(family.collapsed.get_absolute_url() + "?range=bogus").status_code == 200


def test_only_a_good_run_can_be_pinned_as_baseline(user_client, family, unused_port):
    from tests.browser.scenario import sample_now

    good = family.healthy_runs[0]
    user_client.post(reverse("run-pin-baseline", args=[good.pk]))
    family.healthy.refresh_from_db()
    assert family.healthy.baseline_run_id == good.pk

    Endpoint.objects.filter(pk=family.healthy.pk).update(
        base_url=f"http://127.0.0.1:{unused_port}/v1"
    )
    failed = sample_now(Endpoint.objects.get(pk=family.healthy.pk))
    response = user_client.post(reverse("run-pin-baseline", args=[failed.pk]), follow=True)
    assert "cannot be the baseline" in response.content.decode()
    user_client.post(reverse("endpoint-unpin-baseline", args=[family.healthy.pk]))
    family.healthy.refresh_from_db()
    assert family.healthy.baseline_run_id is None


def test_a_comparison_renders_at_once_and_its_test_is_served_then_cached(user_client, family):
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    url = f"{reverse('compare')}?by=endpoint&a={family.healthy.pk}&b={family.collapsed.pk}"
    page = user_client.get(url).content.decode()
    assert f"run #{a.pk}" in page and f"run #{b.pk}" in page and "testing…" in page
    assert "In which country is the town of Tromso?" in page  # tail loss

    tests = user_client.get(reverse("compare-tests", args=[a.pk, b.pk])).json()["metrics"]
    assert tests["distinct_2"]["significant"] and "self_bleu" not in tests
    page = user_client.get(url).content.decode()
    assert "testing…" not in page and "★ p = " in page


def test_a_comparison_that_cannot_be_made_says_why(user_client, family):
    page = user_client.get(f"{reverse('compare')}?by=version&family=support-bot&a=v1&b=v9")
    assert "Version &#x27;v9&#x27; of &#x27;support-bot&#x27; has no scored run yet." in (
        page.content.decode()
    )
    page = user_client.get(f"{reverse('compare')}?by=run&a=x&b=1").content.decode()
    assert "Give a number (an id)." in page


def test_acknowledging_and_silencing_from_the_alerts_page(user_client, family):
    from monitor.models import Alert, EventKind

    alert = Alert.objects.get(rule__metric="distinct_2")
    page = user_client.get(reverse("alert-list")).content.decode()
    assert f'id="alert-{alert.pk}"' in page
    user_client.post(reverse("alert-acknowledge", args=[alert.pk]))
    user_client.post(reverse("alert-silence", args=[alert.pk]), {"hours": "4"})
    alert.refresh_from_db()
    assert alert.acknowledged_by.username == "ops" and alert.is_silenced()
    assert list(alert.events.values_list("kind", flat=True))[-2:] == [
        EventKind.ACKNOWLEDGED,
        EventKind.SILENCED,
    ]
    resolved = user_client.get(reverse("alert-list") + "?state=resolved").content.decode()
    assert f'id="alert-{alert.pk}"' not in resolved


def test_the_connection_test_shows_the_error_escaped(user_client, unused_port):
    endpoint = make_endpoint(f"http://127.0.0.1:{unused_port}/v1")
    page = user_client.post(reverse("endpoint-test-connection", args=[endpoint.pk]))
    assert "No reply" in page.content.decode() and "connection-error" in page.content.decode()


def test_the_run_page_lists_wrong_probes_by_popularity_bucket(user_client, family):
    page = user_client.get(family.collapsed_runs[-1].get_absolute_url()).content.decode()
    tail = page.index("Tail (rarest third)")
    assert page.index("Tromso", tail) < page.index("<h2>Samples</h2>")
    assert "Rare-entity accuracy" in page and "Per prompt" in page


def test_an_action_never_redirects_off_site(user_client, family):
    from monitor.models import Alert

    alert = Alert.objects.get(rule__metric="distinct_2")
    response = user_client.post(
        reverse("alert-acknowledge", args=[alert.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == alert.get_absolute_url()


def test_the_run_page_says_which_stage_the_run_is_in(user_client, settings):
    from monitor.services import alerting, scoring
    from tests.factories import english_texts, make_finished_run

    settings.TAILWATCH_EMBEDDINGS = False
    old = make_endpoint("http://127.0.0.1:9/v1", name="v1", prompt_set=make_prompt_set(6, 0))
    new = make_endpoint(old.base_url, name="v2", prompt_set=old.prompt_set, baseline_endpoint=old)
    run = make_finished_run(new, english_texts(1, 2000, 6, 2))
    assert "Sampled: scoring next" in user_client.get(run.get_absolute_url()).content.decode()

    scoring.score_run(run.pk)
    alerting.evaluate_run(run.pk)
    page = user_client.get(run.get_absolute_url()).content.decode()
    assert "Waiting for the baseline: v1 has no scored run yet" in page
    assert 'data-outcome="clear"' in page  # the endpoint-down rule needed no baseline

    scoring.score_run(make_finished_run(old, english_texts(2, 2000, 6, 2)).pk)
    scoring.score_run(run.pk)
    alerting.evaluate_run(run.pk)
    page = user_client.get(run.get_absolute_url()).content.decode()
    assert "Evaluated against 6 alert rules" in page

"""The prompt-set pages: uploading a prompt file, and the errors of one that is refused."""

import pytest
from django.urls import reverse

from monitor.models import PromptSet

pytestmark = pytest.mark.django_db


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


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")

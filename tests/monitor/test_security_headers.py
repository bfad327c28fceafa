"""Security headers: a strict Content-Security-Policy on every page, and pages that need no
more than it allows."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
STRICT = "default-src 'self'; script-src 'self'; style-src 'self';"


@pytest.mark.parametrize("page", ["login", "endpoint-list", "compare", "promptset-list"])
def test_every_page_forbids_inline_and_foreign_scripts(user_client, page):
    policy = user_client.get(reverse(page))["Content-Security-Policy"]
    assert policy.startswith(STRICT) and "unsafe" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_no_page_template_holds_what_the_policy_blocks():
    """Inline scripts, event handlers and style attributes would be blocked (the browser tests
    fail on the console error it logs); emails are not pages and keep their inline styles."""
    blocked = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)|\son\w+=|\sstyle=")
    pages = [path for path in TEMPLATES.rglob("*.html") if "email" not in path.parts]
    assert pages
    offending = [str(path) for path in pages if blocked.search(path.read_text())]
    assert offending == []

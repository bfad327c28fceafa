"""The API against its own OpenAPI schema, with generated requests (schemathesis): no request,
however odd, gets a server error, and every documented response matches the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from monitor.models import Alert, AlertState, ApiToken, Channel
from tests.factories import make_endpoint, make_scored_run, make_user

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
# The coverage phase tries every boundary of every parameter, hundreds of requests a route:
# generated requests (valid and invalid) within max_examples keep the whole test to about a minute.
schema.config.phases.update(phases=["examples", "fuzzing"])
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def admin_token(db, settings_for_api) -> str:
    """An admin's token on a database with one of everything the routes name (kept across the
    generated examples: each test is one operation)."""
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    make_scored_run(endpoint, seed=1, vocabulary=2000)
    make_scored_run(endpoint, seed=2, vocabulary=2000)
    Alert.objects.create(
        rule=endpoint.alert_rules.first(),
        endpoint=endpoint,
        state=AlertState.FIRING,
        summary="a breach",
    )
    Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    return ApiToken.issue(make_user("admin"))


@pytest.fixture
def settings_for_api(settings):
    """No embeddings, and the test's database connection kept open between requests (the
    WSGI app closes it after each, as Django's own test client stops it from doing)."""
    settings.TAILWATCH_EMBEDDINGS = False
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield settings
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_generated_requests_as_its_schema_says(case, admin_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)

"""Schemathesis over the API's OpenAPI document: generated requests (valid and not) to every operation, against
the real application (WSGI) and database, with a notice open. No answer is a 5xx, and every answer's status,
content type and body match the document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Listed

schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", get_wsgi_application(), headers={"Host": "localhost"}
)
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


@pytest.fixture
def connections_kept() -> Iterator[None]:
    """As Django's test client does: the handler's end-of-request hook would close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_the_api_answers_every_request_as_documented(
    case: schemathesis.Case, listed: Listed, connections_kept: None
) -> None:
    case.call_and_validate(checks=CHECKS, headers={"Host": "localhost"})

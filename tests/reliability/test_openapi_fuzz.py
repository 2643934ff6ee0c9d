"""Property-based requests generated from the OpenAPI document that `gldr openapi` prints.

Every operation but the SSE streams gets `MAX_EXAMPLES` generated requests against
a real API on loopback. A 5xx, an undocumented status code, a wrong content type
or a body that does not match the documented schema fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from click.testing import CliRunner
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gl_deep_research import cli
from tests.reliability.stack import MASTER_KEY, create_account
from tests.service.support import start_api

pytestmark = [pytest.mark.services, pytest.mark.slow]

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Routes that only the master key may call; every other route gets an account key.
MASTER_PREFIXES = ("/v1/accounts", "/v1/profiles")


@pytest.fixture(scope="module")
def fuzz_api(
    module_fault_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Yield the base URL of an API on loopback and an account key for it."""
    process, base_url = start_api(module_fault_env, tmp_path_factory.mktemp("fuzz-logs"))
    try:
        yield base_url, create_account(base_url)
    finally:
        process.stop()


def load_document() -> dict[str, Any]:
    """Return the document that `gldr openapi` prints, produced in this process."""
    result = CliRunner().invoke(cli.main, ["openapi"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


# NOTE: loaded at import, because the lazy `schemathesis.pytest.from_fixture` of
# schemathesis 4.32.5 fails under pytest 9.2 ("'Function' object has no attribute
# '_nodeid'").
schema = schemathesis.openapi.from_dict(load_document()).exclude(path_regex=r".*/stream$")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_openapi(case: Any, fuzz_api: tuple[str, str]) -> None:
    base_url, account_key = fuzz_api
    key = MASTER_KEY if case.path.startswith(MASTER_PREFIXES) else account_key
    case.call_and_validate(base_url=base_url, headers={"X-API-Key": key}, checks=CHECKS, timeout=30)


@pytest.mark.parametrize("path", ["/v1/tasks", "/v1/taskgroups"])
def test_non_string_profile_is_400(path: str, fuzz_api: tuple[str, str]) -> None:
    # Found by the fuzzing above: a JSON list as `profile` used to raise a 500.
    base_url, account_key = fuzz_api
    response = httpx.post(
        f"{base_url}{path}",
        json={"query": "What causes the tides?", "profile": [None, None]},
        headers={"X-API-Key": account_key},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Field 'profile' must be a string, got list."


def test_empty_account_name_is_documented_400(fuzz_api: tuple[str, str]) -> None:
    base_url, _ = fuzz_api
    response = httpx.post(
        f"{base_url}/v1/accounts/", json={"name": ""}, headers={"X-API-Key": MASTER_KEY}, timeout=30
    )
    assert response.status_code == 400
    documented = load_document()["paths"]["/v1/accounts/"]["post"]["responses"]
    assert "400" in documented

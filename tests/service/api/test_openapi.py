"""The OpenAPI document lists every route as served, and `gldr openapi` needs no services."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi.routing import APIRoute

from gl_deep_research.api.app import create_app
from gl_deep_research.api.routing import alternate_form
from gl_deep_research.settings import Settings
from tests.service.support import REPO_ROOT

pytestmark = pytest.mark.unit

SERVED = {
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("POST", "/v1/accounts/"),
    ("GET", "/v1/accounts/"),
    ("GET", "/v1/accounts/{account_id}"),
    ("DELETE", "/v1/accounts/{account_id}"),
    ("POST", "/v1/accounts/{account_id}/rotate-key"),
    ("GET", "/v1/profiles"),
    ("POST", "/v1/profiles"),
    ("GET", "/v1/profiles/{name}"),
    ("PUT", "/v1/profiles/{name}"),
    ("PATCH", "/v1/profiles/{name}"),
    ("DELETE", "/v1/profiles/{name}"),
    ("POST", "/v1/tasks"),
    ("GET", "/v1/tasks"),
    ("GET", "/v1/tasks/{task_id}"),
    ("POST", "/v1/tasks/{task_id}/cancel"),
    ("GET", "/v1/tasks/{task_id}/stream"),
    *(
        (method, prefix + suffix)
        for prefix in ("/v1/taskgroups", "/v1/taskgroup")
        for method, suffix in (
            ("POST", ""),
            ("POST", "/{taskgroup_id}/tasks"),
            ("GET", "/{taskgroup_id}"),
            ("GET", "/{taskgroup_id}/tasks/{task_id}"),
            ("GET", "/{taskgroup_id}/stream"),
        )
    ),
}


def documented(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def test_document_lists_every_route() -> None:
    app = create_app(Settings())
    document = app.openapi()
    assert documented(document) == SERVED

    schema_routes = set()
    for route in app.router.routes:
        for child in getattr(route, "routes", [route]):
            if not isinstance(child, APIRoute):
                continue
            for method in child.methods:
                pair = (method, child.path)
                if child.include_in_schema:
                    schema_routes.add(pair)
                else:
                    # Hidden routes are only the other slash form of a documented one.
                    assert (method, alternate_form(child.path)) in SERVED, pair
    assert schema_routes <= SERVED


def test_document_shows_bodies_and_errors() -> None:
    document = create_app(Settings()).openapi()
    paths = document["paths"]
    create_task = paths["/v1/tasks"]["post"]
    content = create_task["requestBody"]["content"]
    assert set(content) == {"application/x-www-form-urlencoded", "application/json"}
    assert set(create_task["responses"]) >= {"202", "400", "401", "404", "413", "415", "429"}
    cancel = paths["/v1/tasks/{task_id}/cancel"]["post"]
    assert set(cancel["responses"]) >= {"200", "401", "404", "409"}
    delete_profile = paths["/v1/profiles/{name}"]["delete"]
    assert set(delete_profile["responses"]) >= {"200", "401", "404", "409", "500"}
    profile_body = paths["/v1/profiles"]["post"]["requestBody"]["content"]["application/json"]
    assert profile_body["schema"]["required"] == ["name", "provider"]
    assert set(profile_body["schema"]["properties"]) == {
        "name",
        "provider",
        "params",
        "description",
    }
    stream = paths["/v1/taskgroups/{taskgroup_id}/stream"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert "503" in stream["responses"]


def test_cli_prints_document_without_services() -> None:
    # Unreachable service URLs prove that the command connects to nothing.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "GL_DEEP_RESEARCH_DB_URL": "postgresql://nobody@127.0.0.1:1/none",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "1",
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//",
    }
    result = subprocess.run(
        [sys.executable, "-m", "gl_deep_research.cli", "openapi"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert documented(document) == SERVED
    assert document["info"]["title"] == "GL Open DeepResearch"

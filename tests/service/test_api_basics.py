"""Input errors, authentication, scoping and idempotency through the real API stack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from gl_deep_research.api.app import create_app
from gl_deep_research.db.database import Database
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.db.models import Account, utcnow
from gl_deep_research.errors import InvalidInput
from gl_deep_research.settings import Settings
from tests.service.conftest import MASTER_KEY

pytestmark = pytest.mark.services


@pytest.fixture
def client(session_settings: Settings, clean_database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(session_settings)) as test_client:
        yield test_client


def make_account(client: TestClient, name: str) -> str:
    response = client.post("/v1/accounts/", json={"name": name}, headers={"X-API-Key": MASTER_KEY})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["api_key"])


def test_health_needs_no_key(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_account_creation_envelope(client: TestClient) -> None:
    response = client.post(
        "/v1/accounts/", json={"name": "alpha"}, headers={"X-API-Key": MASTER_KEY}
    )
    body = response.json()
    assert response.status_code == 201
    assert body["success"] is True
    assert set(body["data"]) == {"id", "name", "api_key", "created_at"}
    assert body["data"]["api_key"].startswith("gldr_")
    duplicate = client.post(
        "/v1/accounts/", json={"name": "alpha"}, headers={"X-API-Key": MASTER_KEY}
    )
    assert duplicate.status_code == 409
    assert "'alpha'" in duplicate.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "wrong"}, 401),
        ({"X-API-Key": "gldr_000000000000_" + "x" * 43}, 401),
    ],
)
def test_bad_key_is_401(client: TestClient, headers: dict[str, str], status: int) -> None:
    response = client.post("/v1/tasks", data={"query": "x"}, headers=headers)
    assert response.status_code == status
    assert "detail" in response.json()


def test_account_key_cannot_manage_accounts(client: TestClient) -> None:
    key = make_account(client, "beta")
    response = client.get("/v1/accounts/", headers={"X-API-Key": key})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("fields", "status", "named"),
    [
        ({"query": ""}, 400, "'query'"),
        ({"query": "   "}, 400, "'query'"),
        ({}, 400, "'query'"),
        ({"query": "x" * 20_001}, 400, "20001 characters"),
        ({"query": "ok", "profile": "no-such-profile"}, 404, "'no-such-profile'"),
        ({"query": "ok", "webhook": "{not json"}, 400, "'webhook'"),
        ({"query": "ok", "webhook": '{"url": "ftp://x"}'}, 400, "'webhook.url'"),
    ],
)
def test_invalid_task_input(
    client: TestClient, fields: dict[str, str], status: int, named: str
) -> None:
    key = make_account(client, f"input-{uuid.uuid4().hex[:6]}")
    response = client.post("/v1/tasks", data=fields, headers={"X-API-Key": key})
    assert response.status_code == status, response.text
    assert named in response.json()["detail"]


def test_json_body_is_accepted(client: TestClient) -> None:
    key = make_account(client, "json")
    response = client.post(
        "/v1/tasks", json={"query": "What is a volcano?"}, headers={"X-API-Key": key}
    )
    assert response.status_code == 202
    task = client.get(f"/v1/tasks/{response.json()['task_id']}", headers={"X-API-Key": key})
    assert task.json()["data"]["query"] == "What is a volcano?"
    assert task.json()["data"]["profile"] == "local"


def test_invalid_json_body_is_400(client: TestClient) -> None:
    key = make_account(client, "badjson")
    response = client.post(
        "/v1/tasks",
        content=b"{nope",
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_body_over_one_mebibyte_is_413(client: TestClient) -> None:
    key = make_account(client, "big")
    response = client.post(
        "/v1/tasks", data={"query": "x" * (1024 * 1024 + 10)}, headers={"X-API-Key": key}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("task_id", ["not-a-uuid", "1234", "%00", "' OR 1=1 --"])
def test_malformed_task_id_is_404(client: TestClient, task_id: str) -> None:
    key = make_account(client, f"ids-{uuid.uuid4().hex[:6]}")
    response = client.get(f"/v1/tasks/{task_id}", headers={"X-API-Key": key})
    assert response.status_code == 404


def test_other_accounts_task_is_404(client: TestClient) -> None:
    owner = make_account(client, "owner")
    stranger = make_account(client, "stranger")
    task_id = client.post(
        "/v1/tasks", data={"query": "Tides?"}, headers={"X-API-Key": owner}
    ).json()["task_id"]
    assert client.get(f"/v1/tasks/{task_id}", headers={"X-API-Key": owner}).status_code == 200
    assert client.get(f"/v1/tasks/{task_id}", headers={"X-API-Key": stranger}).status_code == 404
    stream = client.get(f"/v1/tasks/{task_id}/stream", headers={"X-API-Key": stranger})
    assert stream.status_code == 404
    assert client.get(f"/v1/tasks/{task_id}", headers={"X-API-Key": MASTER_KEY}).status_code == 200


def test_idempotency_key_returns_first_task(client: TestClient) -> None:
    key = make_account(client, "idem")
    headers = {"X-API-Key": key, "Idempotency-Key": "order-42"}
    first = client.post("/v1/tasks", data={"query": "Glaciers?"}, headers=headers).json()
    second = client.post("/v1/tasks", data={"query": "Glaciers?"}, headers=headers).json()
    assert first["task_id"] == second["task_id"]
    other = make_account(client, "idem-other")
    third = client.post(
        "/v1/tasks",
        data={"query": "Glaciers?"},
        headers={"X-API-Key": other, "Idempotency-Key": "order-42"},
    ).json()
    assert third["task_id"] != first["task_id"]


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"query": "Volcanoes?"}, "query"),
        ({"profile": "local-brief"}, "profile"),
        ({"webhook": '{"url": "https://hooks.example.com/gldr"}'}, "webhook"),
    ],
)
def test_idempotency_key_reuse_is_409(
    client: TestClient, changed: dict[str, str], named: str
) -> None:
    key = make_account(client, f"idem-{uuid.uuid4().hex[:6]}")
    headers = {"X-API-Key": key, "Idempotency-Key": "order-43"}
    original = {"query": "Glaciers?", "profile": "local"}
    first = client.post("/v1/tasks", data=original, headers=headers)
    reused = client.post("/v1/tasks", data=original | changed, headers=headers)
    repeated = client.post("/v1/tasks", data=original, headers=headers)
    assert first.status_code == 202
    assert reused.status_code == 409, reused.text
    detail = reused.json()["detail"]
    assert "'order-43' was already used for a different request" in detail
    assert f"another {named}" in detail
    assert first.json()["task_id"] in detail
    assert repeated.status_code == 202
    assert repeated.json()["task_id"] == first.json()["task_id"]


def test_idempotency_compares_webhook_secret(client: TestClient) -> None:
    key = make_account(client, "idem-secret")
    headers = {"X-API-Key": key, "Idempotency-Key": "order-45"}

    def submit(secret: str) -> httpx.Response:
        webhook = json.dumps({"url": "https://hooks.example.com/gldr", "secret": secret})
        return client.post(
            "/v1/tasks", data={"query": "Glaciers?", "webhook": webhook}, headers=headers
        )

    first = submit("s1")
    same = submit("s1")
    other = submit("s2")
    assert first.status_code == 202, first.text
    assert same.json()["task_id"] == first.json()["task_id"]
    assert other.status_code == 409
    assert "another webhook" in other.json()["detail"]


def test_idempotency_default_profile_matches(client: TestClient) -> None:
    key = make_account(client, "idem-default")
    headers = {"X-API-Key": key, "Idempotency-Key": "order-44"}
    first = client.post("/v1/tasks", data={"query": "Glaciers?"}, headers=headers)
    named = client.post(
        "/v1/tasks", data={"query": " Glaciers? ", "profile": "local"}, headers=headers
    )
    assert named.status_code == 202
    assert named.json()["task_id"] == first.json()["task_id"]


def test_deleted_account_key_stops_at_once(client: TestClient) -> None:
    response = client.post(
        "/v1/accounts/", json={"name": "gone"}, headers={"X-API-Key": MASTER_KEY}
    )
    account = response.json()["data"]
    headers = {"X-API-Key": account["api_key"]}
    assert client.post("/v1/tasks", data={"query": "x?"}, headers=headers).status_code == 202
    deleted = client.delete(f"/v1/accounts/{account['id']}", headers={"X-API-Key": MASTER_KEY})
    assert deleted.status_code == 200
    assert client.post("/v1/tasks", data={"query": "x?"}, headers=headers).status_code == 401


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    injected = client.get("/health", headers={"X-Request-ID": "bad id\twith tab"})
    assert injected.headers["x-request-id"] != "bad id\twith tab"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/tasks", rb'{"query": "\ud800"}', "'query'"),
        ("/v1/tasks", rb'{"query": "Q?", "profile": "a\udfff"}', "'profile'"),
        ("/v1/tasks", rb'{"query": "Q?", "webhook": {"url": "http://x/\ud800"}}', "'webhook.url'"),
        (
            "/v1/tasks",
            rb'{"query": "Q?", "webhook": "{\"url\": \"http://x/\\ud800\"}"}',
            "'webhook.url'",
        ),
        ("/v1/taskgroups", rb'{"query": ["ok?", "\ud800"]}', "'query[1]'"),
        ("/v1/taskgroups", rb'{"query": "[\"ok?\", \"\\ud800\"]"}', "'query[1]'"),
        ("/v1/tasks", rb'{"query": "Q?", "\ud800": "x"}', "'\\\\ud800'"),
    ],
)
def test_lone_surrogate_is_400(client: TestClient, path: str, body: bytes, field: str) -> None:
    key = make_account(client, f"surrogate-{uuid.uuid4().hex[:6]}")
    response = client.post(
        path, content=body, headers={"X-API-Key": key, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert "lone surrogate" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/accounts/", rb'{"name": "\ud800"}', "'name'"),
        (
            "/v1/profiles",
            rb'{"name": "p", "provider": "local", "description": "\ud800"}',
            "'description'",
        ),
    ],
)
def test_lone_surrogate_master_routes_400(
    client: TestClient, path: str, body: bytes, field: str
) -> None:
    headers = {"X-API-Key": MASTER_KEY, "Content-Type": "application/json"}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_database_maps_surrogate_to_400(
    backend: str, clean_database: Database, tmp_path: Path
) -> None:
    if backend == "sqlite":
        settings = Settings(gldr_data_dir=tmp_path, gl_deep_research_db_url=None)
        upgrade_database(settings)
        database = Database(settings)
    else:
        database = clean_database
    account = Account(
        id=uuid.uuid4(),
        name="\ud800",
        key_prefix=uuid.uuid4().hex[:12],
        key_hash="x",
        key_preview="x",
        created_at=utcnow(),
    )
    with pytest.raises(InvalidInput, match="lone surrogate"), database.session() as session:
        session.add(account)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b'{"query": 123}',
            "Field 'query' must be a string, got int 123; send the question as text.",
        ),
        (b'{"query": null}', "Field 'query' is required and must not be empty."),
        (
            b'{"query": ["a"]}',
            "Field 'query' must be a string, got list ['a']; send the question as text.",
        ),
    ],
)
def test_query_must_be_string(client: TestClient, body: bytes, detail: str) -> None:
    key = make_account(client, f"type-{uuid.uuid4().hex[:6]}")
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    response = client.post("/v1/tasks", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/tasks/" + "a" * 60_000, "account"),
        ("/v1/tasks/" + "a" * 60_000 + "/cancel", "account"),
        ("/v1/taskgroups/" + "a" * 60_000, "account"),
        ("/v1/accounts/" + "a" * 60_000, "master"),
        ("/v1/tasks?status=" + "a" * 60_000, "account"),
    ],
    ids=["task", "cancel", "group", "account", "status"],
)
def test_long_ids_trimmed_in_errors(client: TestClient, path: str, key: str) -> None:
    api_key = MASTER_KEY if key == "master" else make_account(client, f"l-{uuid.uuid4().hex[:6]}")
    method = "POST" if path.endswith("/cancel") else "GET"
    response = client.request(method, path, headers={"X-API-Key": api_key})
    assert response.status_code in (400, 404), response.text[:200]
    detail = response.json()["detail"]
    assert "aaaa…" in detail
    assert len(detail) < 400


def test_long_profile_name_trimmed(client: TestClient) -> None:
    key = make_account(client, "long-profile")
    response = client.post(
        "/v1/tasks", data={"query": "Q?", "profile": "p" * 60_000}, headers={"X-API-Key": key}
    )
    assert response.status_code == 404
    assert len(response.json()["detail"]) < 400

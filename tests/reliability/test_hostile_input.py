"""Oversized, malformed and hostile requests get a clear 4xx, never a 5xx."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.reliability.stack import MASTER_KEY, create_account
from tests.service.support import start_api

pytestmark = [pytest.mark.services, pytest.mark.slow]

LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def api(
    module_fault_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    process, base_url = start_api(module_fault_env, tmp_path_factory.mktemp("hostile-logs"))
    yield base_url
    process.stop()


@pytest.fixture
def client(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=api, headers={"X-API-Key": create_account(api)}, timeout=30
    ) as client:
        yield client


FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_oversized_bodies_get_413(client: httpx.Client) -> None:
    declared = client.post("/v1/tasks", content=b"query=" + b"a" * LIMIT, headers=FORM)

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"a" * (100 * 1024)

    streamed = client.post("/v1/tasks", content=chunks(), headers=FORM)

    assert declared.status_code == 413
    assert declared.json() == {"detail": f"Request body exceeds the limit of {LIMIT} bytes."}
    assert streamed.status_code == 413
    assert streamed.json() == declared.json()


def test_oversized_query_and_url_rejected(client: httpx.Client, api: str) -> None:
    long_query = client.post("/v1/tasks", data={"query": "a" * 20_001})
    # httpx refuses to send a 100 KB URL, so the request goes over a raw socket.
    host, port = api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(b"GET /v1/tasks?cursor=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status_line = raw.recv(4096).split(b"\r\n", 1)[0]

    assert long_query.status_code == 400
    assert long_query.json() == {
        "detail": "Field 'query' has 20001 characters; the maximum is 20000."
    }
    assert status_line in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 414 Request-URI Too Long")


@pytest.mark.parametrize(
    ("path", "status", "detail_start"),
    [
        ("/v1/tasks/not-a-uuid", 404, "task_id 'not-a-uuid' is not a valid id."),
        ("/v1/tasks/not-a-uuid/stream", 404, "task_id 'not-a-uuid' is not a valid id."),
        ("/v1/tasks?cursor=%25%25garbage", 400, "Query parameter 'cursor' is not a cursor"),
        ("/v1/tasks?cursor=eyJhIjoxfQ", 400, "Query parameter 'cursor' is not a cursor"),
        ("/v1/tasks?limit=-5", 400, "Query parameter 'limit' must be between 1 and 100"),
        ("/v1/tasks?status=NOPE", 400, "Query parameter 'status' must be one of PENDING"),
        ("/v1/taskgroups/not-a-uuid", 404, "taskgroup_id 'not-a-uuid' is not a valid id."),
    ],
)
def test_malformed_ids_and_cursors(
    client: httpx.Client, path: str, status: int, detail_start: str
) -> None:
    response = client.get(path)

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail_start)


def test_malformed_account_id_is_404(api: str) -> None:
    response = httpx.get(f"{api}/v1/accounts/zzz", headers={"X-API-Key": MASTER_KEY}, timeout=30)

    assert response.status_code == 404
    assert response.json() == {"detail": "Account 'zzz' not found."}


@pytest.mark.parametrize(
    ("body", "content_type", "detail_start"),
    [
        (b"query=x&webhook=%7Bnot+json", FORM["content-type"], "Field 'webhook' must be a JSON"),
        (b"query=x&webhook=%5B1%5D", FORM["content-type"], "Field 'webhook' must be a JSON"),
        (b"{bad", "application/json", "The request body is not valid JSON"),
        (b"[1]", "application/json", "The JSON body must be an object of fields."),
        (b'{"query": "\xff\xfe"}', "application/json", "The request body is not valid JSON"),
        (b"query=%ff%fe", FORM["content-type"], "The form body is not valid UTF-8"),
        (b"query=\xff\xfe", FORM["content-type"], "The form body is not valid UTF-8"),
        (rb'{"query": "\ud800"}', "application/json", "Field 'query' contains the lone surrogate"),
        (b"query=%ED%A0%80", FORM["content-type"], "The form body is not valid UTF-8"),
    ],
)
def test_invalid_bodies_get_400(
    client: httpx.Client, body: bytes, content_type: str, detail_start: str
) -> None:
    response = client.post("/v1/tasks", content=body, headers={"content-type": content_type})

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail_start)


def test_invalid_headers_get_4xx(client: httpx.Client, api: str) -> None:
    long_key = client.post("/v1/tasks", data={"query": "x"}, headers={"Idempotency-Key": "k" * 256})
    task_id = client.post("/v1/tasks", data={"query": "x"}).json()["task_id"]
    bad_event_id = client.get(f"/v1/tasks/{task_id}/stream", headers={"Last-Event-ID": "evil"})
    xml = client.post("/v1/tasks", content=b"<a/>", headers={"content-type": "application/xml"})
    binary_key = httpx.get(f"{api}/v1/tasks", headers={"X-API-Key": b"\xff\xfe"}, timeout=30)
    bad_request_id = client.get("/health", headers={"X-Request-ID": "abc def"})

    assert long_key.status_code == 400
    assert long_key.json() == {"detail": "Header 'Idempotency-Key' must have 1 to 255 characters."}
    assert bad_event_id.status_code == 400
    assert bad_event_id.json()["detail"].startswith("Header 'Last-Event-ID' must be an event id")
    assert xml.status_code == 415
    assert binary_key.status_code == 401
    assert binary_key.json() == {"detail": "Invalid API key."}
    # An id that could smuggle text into logs or headers is replaced, not echoed.
    assert bad_request_id.headers["x-request-id"] != "abc def"
    assert len(bad_request_id.headers["x-request-id"]) == 32


@pytest.mark.parametrize("separator", [b"\r", b"\n"])
def test_header_injection_rejected(api: str, separator: bytes) -> None:
    host, port = api.removeprefix("http://").split(":")
    request = (
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: a"
        + separator
        + b"Set-Cookie: evil=1\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(request)
        answer = raw.recv(4096)

    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"evil" not in answer


def test_unknown_ids_never_5xx(client: httpx.Client) -> None:
    unknown = str(uuid.uuid4())
    paths = [f"/v1/tasks/{unknown}", f"/v1/tasks/{unknown}/stream", f"/v1/taskgroups/{unknown}"]

    statuses = [client.get(path).status_code for path in paths]

    assert statuses == [404, 404, 404]

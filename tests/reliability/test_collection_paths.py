"""Path traversal and symbolic links in document-collection names given through profiles."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import make_data_dir
from tests.reliability.stack import MASTER_KEY, create_account
from tests.service.api.conftest import wait_for_status
from tests.service.support import ChildProcess, start_api, start_worker

pytestmark = [pytest.mark.services, pytest.mark.slow]

OUTSIDE_MARKER = "zebracorn-outside-document"
MASTER = {"X-API-Key": MASTER_KEY}


def create_profile(base_url: str, collections: list[str]) -> tuple[str, httpx.Response]:
    name = f"paths-{uuid.uuid4().hex[:8]}"
    return name, httpx.post(
        f"{base_url}/v1/profiles",
        json={
            "name": name,
            "provider": "local",
            "params": {"collections": collections, "sub_queries": 0, "follow_up_queries": 0},
        },
        headers=MASTER,
        timeout=30,
    )


@pytest.mark.timeout(300)
def test_collection_paths_stay_inside(
    fault_env: dict[str, str], log_dir: Path, children: list[ChildProcess], tmp_path: Path
) -> None:
    data_dir = make_data_dir(tmp_path / "data")
    collections = data_dir / "collections"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"# Zebracorn\n\nThe {OUTSIDE_MARKER} about tides.\n")
    # `escape` is a link to a folder outside the collections directory.
    (collections / "escape").symlink_to(outside, target_is_directory=True)
    # `leaky` is a real folder with one own file and one link to a file outside.
    leaky = collections / "leaky"
    leaky.mkdir()
    (leaky / "own.md").write_text("# Own\n\nTides rise and fall twice a day.\n")
    (leaky / "linked.md").symlink_to(outside / "secret.md")

    env = {**fault_env, "GLDR_DATA_DIR": str(data_dir)}
    api, base_url = start_api(env, log_dir)
    children.append(api)
    children.append(start_worker(env, log_dir, "paths", concurrency=1))
    key = create_account(base_url)

    for name in ("../x", "/etc", "notes/../../x", "a/b", "..", "notes\\..\\x"):
        _, response = create_profile(base_url, [name])
        assert response.status_code == 400, (name, response.text)
        detail = response.json()["detail"]
        assert detail == (
            f"Invalid param 'collections.0'={name!r} for provider 'local': String should match "
            "pattern '^[a-z0-9][a-z0-9._-]{0,62}$'."
        )

    expected_errors = {
        "escape": (
            f"Collection 'escape' is a link to {str(outside.resolve())!r}, which is outside "
            f"the collections directory {str(collections.resolve())!r}"
        ),
        "leaky": (
            f"Collection 'leaky' contains {str(leaky.resolve() / 'linked.md')!r}, which "
            f"resolves to {str((outside / 'secret.md').resolve())!r} outside the collection "
            "folder"
        ),
    }
    for collection, expected in expected_errors.items():
        profile_name, profile = create_profile(base_url, [collection])
        assert profile.status_code == 201, profile.text
        response = httpx.post(
            f"{base_url}/v1/tasks",
            data={"query": "What causes the tides?", "profile": profile_name},
            headers={"X-API-Key": key},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        body = wait_for_status(
            base_url, key, response.json()["task_id"], {"SUCCESS", "FAILURE"}, 120
        )
        assert body["status"] == "FAILURE", (collection, body)
        assert expected in str(body["error"]), (collection, body["error"])
        assert OUTSIDE_MARKER not in json.dumps(body), collection
        stream = httpx.get(
            f"{base_url}/v1/tasks/{body['task_id']}/stream", headers={"X-API-Key": key}, timeout=30
        )
        assert stream.status_code == 200
        assert OUTSIDE_MARKER not in stream.text, collection

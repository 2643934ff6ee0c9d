from __future__ import annotations

import hmac

import pytest

from gl_deep_research.auth import keys

pytestmark = pytest.mark.unit

FAST_ROUNDS = 4


def test_generated_key_verifies() -> None:
    new_key = keys.generate_key()
    assert keys.check_key(new_key.plaintext, new_key.hash)
    assert keys.parse_prefix(new_key.plaintext) == new_key.prefix


def test_preview_shows_three_and_three() -> None:
    assert keys.preview_key("gldr_abcdef_xyz789") == "gld...789"


def test_wrong_key_fails() -> None:
    stored = keys.hash_key("gldr_aaaaaaaaaaaa_" + "a" * 43, rounds=FAST_ROUNDS)
    assert not keys.check_key("gldr_aaaaaaaaaaaa_" + "b" * 43, stored)


def test_keys_past_72_bytes_are_not_truncated() -> None:
    # bcrypt alone would ignore everything after byte 72 and accept this key.
    base = "k" * 80
    stored = keys.hash_key(base + "1", rounds=FAST_ROUNDS)
    assert keys.check_key(base + "1", stored)
    assert not keys.check_key(base + "2", stored)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "gldr_",
        "gldr_XYZ_abc",
        "gldr_abcdefabcdef_short",
        "bearer gldr_abcdefabcdef_" + "a" * 43,
    ],
)
def test_malformed_key_has_no_prefix(presented: str) -> None:
    assert keys.parse_prefix(presented) is None


def test_corrupt_hash_fails_closed() -> None:
    assert not keys.check_key("anything", "not-a-bcrypt-hash")


def test_master_key_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(first: bytes, second: bytes) -> bool:
        compared.append((first, second))
        return compare(first, second)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert not keys.equal_secrets("presented-\u00e9", "master-key")
    assert compared == [("presented-\u00e9".encode(), b"master-key")]

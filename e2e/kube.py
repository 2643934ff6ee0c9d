"""Helpers for e2e tests that talk to a Kubernetes API server through a kubeconfig."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
from lightkube import Client, KubeConfig
from lightkube.config.client_adapter import Client as HttpxClient
from lightkube.config.client_adapter import ConnectionParams

FIELD_MANAGER = "gldr-e2e"

T = TypeVar("T")


def lightkube_client(kubeconfig: Path) -> Client:
    """Return a lightkube Client for the kubeconfig's current context."""
    return Client(config=KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)


def http_client(kubeconfig: Path) -> httpx.Client:
    """Return an httpx Client with the kubeconfig's server URL, CA and credentials.

    For API paths that lightkube has no method for, such as /version.
    """
    config = KubeConfig.from_file(kubeconfig).get()
    return HttpxClient(config, ConnectionParams())


def wait_for(
    description: str,
    probe: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.5,
) -> T:
    """Call probe until it returns a value other than None or False, and return that value.

    Raises AssertionError naming description and the last value when timeout
    seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {description}; last value: {value!r}"
            )
        time.sleep(interval)

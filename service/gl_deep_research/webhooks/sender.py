"""Sends due webhook deliveries: signed POSTs with timeouts, redirects checked, retries.

Called by the `gl_deep_research.send_webhooks` Celery task and, in embedded
mode, by the API's background loop. Each call claims a batch of due rows by
pushing their `next_attempt_at` past the time one attempt can take (a lease).
Two senders therefore never post the same delivery at once, and the row of a
sender that dies mid-attempt is retried after the lease. Delivery is at
least once: receivers de-duplicate by `X-Webhook-Id`, which stays the same
across retries. Every attempt is stored in `webhook_attempts` and logged.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
from sqlalchemy import func, select

from gl_deep_research import metrics
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import WebhookAttempt, WebhookDelivery, utcnow
from gl_deep_research.settings import Settings
from gl_deep_research.webhooks.guard import TargetGuard, UnsafeTarget, url_problem
from gl_deep_research.webhooks.secrets import SecretBox, SecretBoxUnavailable
from gl_deep_research.webhooks.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, sign

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_BACKOFF_SECONDS = 3600.0
BATCH_SIZE = 50
USER_AGENT = "gl-deep-research-webhooks/0.1"


@dataclass(frozen=True)
class DueDelivery:
    id: uuid.UUID
    url: str
    encrypted_secret: str | None
    event: str
    payload: dict[str, Any]
    attempt: int
    owner: str


@dataclass(frozen=True)
class AttemptResult:
    url: str
    status_code: int | None = None
    error: str | None = None
    # True when a retry cannot succeed, so the delivery fails without using its retries.
    permanent: bool = False

    @property
    def delivered(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def backoff_seconds(attempt: int, base_seconds: float) -> float:
    """Return the wait after failed attempt `attempt` (1-based): exponential, equal jitter."""
    ceiling: float = min(base_seconds * 2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class WebhookSender:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        secrets: SecretBox,
        guard: TargetGuard | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._database = database
        self._secrets = secrets
        self._guard = guard or TargetGuard(settings.webhook_allow_private_targets)
        self._transport = transport

    def send_due(self, limit: int = BATCH_SIZE) -> float | None:
        """Send every due delivery; return the seconds until the next pending one, or None.

        An error in one delivery never stops the batch. `_send` records it as a
        failed attempt. When even recording fails, the delivery is logged and
        retried once its lease runs out.
        """
        for delivery in self._claim(limit):
            try:
                self._send(delivery)
            except Exception:
                logger.exception(
                    "Failed to record the attempt of webhook %s (%s of %s), so it is "
                    "retried after its lease expires",
                    delivery.id,
                    delivery.event,
                    delivery.owner,
                )
        return self.seconds_until_next_due()

    def seconds_until_next_due(self) -> float | None:
        with self._database.session() as session:
            moment = session.scalar(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.state == "pending"
                )
            )
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=utcnow().tzinfo)
        return max(0.0, (moment - utcnow()).total_seconds())

    def _claim(self, limit: int) -> list[DueDelivery]:
        now = utcnow()
        lease = timedelta(seconds=self._settings.webhook_timeout_seconds * (MAX_REDIRECTS + 1) + 30)
        with self._database.session() as session:
            query = (
                select(WebhookDelivery)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            )
            if not self._database.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for row in session.scalars(query):
                row.next_attempt_at = now + lease
                claimed.append(
                    DueDelivery(
                        id=row.id,
                        url=row.url,
                        encrypted_secret=row.secret,
                        event=row.event,
                        payload=dict(row.payload),
                        attempt=row.attempts + 1,
                        owner=f"task {row.task_id}" if row.task_id else f"group {row.taskgroup_id}",
                    )
                )
        return claimed

    def _send(self, delivery: DueDelivery) -> None:
        body = json.dumps(delivery.payload, separators=(",", ":"), default=str).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_ID_HEADER: str(delivery.id),
            "X-Webhook-Event": delivery.event,
            "X-Webhook-Attempt": str(delivery.attempt),
        }
        started = time.monotonic()
        try:
            if delivery.encrypted_secret:
                secret = self._secrets.decrypt(delivery.encrypted_secret)
                headers[SIGNATURE_HEADER] = sign(secret, body)
            result = self._post(delivery.url, body, headers)
        except SecretBoxUnavailable as err:
            result = AttemptResult(url=delivery.url, error=str(err))
        except Exception as err:
            # A bug or an input that httpx rejects in an unexpected way fails this
            # attempt only. A traceback has code lines and the error message, not local
            # variables such as the secret.
            logger.exception("Unexpected error while sending webhook %s", delivery.id)
            result = AttemptResult(url=delivery.url, error=f"{type(err).__name__}: {err}")
        duration_ms = int((time.monotonic() - started) * 1000)
        self._record(delivery, result, duration_ms)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        problem = url_problem(url)
        if problem is not None:
            # A stored URL that is malformed stays malformed, so retrying cannot help.
            return AttemptResult(url=url, error=f"The webhook URL {problem}.", permanent=True)
        current = url
        timeout = httpx.Timeout(self._settings.webhook_timeout_seconds)
        with httpx.Client(
            timeout=timeout, follow_redirects=False, transport=self._transport
        ) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                try:
                    # Checked before each connection, so a redirect cannot reach a
                    # forbidden address either.
                    self._guard.check_url(current)
                    response = client.post(current, content=body, headers=headers)
                except UnsafeTarget as err:
                    return AttemptResult(url=current, error=f"Rejected target: {err}")
                except (httpx.HTTPError, httpx.InvalidURL) as err:
                    return AttemptResult(url=current, error=f"{type(err).__name__}: {err}")
                location = response.headers.get("location")
                if not response.is_redirect or not location:
                    error = None if response.is_success else f"HTTP {response.status_code}"
                    return AttemptResult(url=current, status_code=response.status_code, error=error)
                try:
                    current = urljoin(current, location)
                except ValueError as err:
                    return AttemptResult(
                        url=current, error=f"Invalid redirect location {location!r}: {err}."
                    )
        return AttemptResult(url=current, error=f"More than {MAX_REDIRECTS} redirects.")

    def _record(self, delivery: DueDelivery, result: AttemptResult, duration_ms: int) -> None:
        max_attempts = self._settings.webhook_max_retries + 1
        now = utcnow()
        with self._database.session() as session:
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempt=delivery.attempt,
                    url=result.url,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=duration_ms,
                    attempted_at=now,
                )
            )
            row = session.get(WebhookDelivery, delivery.id)
            if row is None:
                # The cleanup job removed the delivery while it was in flight.
                return
            row.attempts = delivery.attempt
            row.last_status_code = result.status_code
            row.last_error = result.error
            if result.delivered:
                row.state = "delivered"
                row.delivered_at = now
            elif result.permanent or delivery.attempt >= max_attempts:
                row.state = "failed"
            else:
                delay = backoff_seconds(delivery.attempt, self._settings.webhook_retry_base_seconds)
                row.next_attempt_at = now + timedelta(seconds=delay)
        self._log(delivery, result, max_attempts)

    def _log(self, delivery: DueDelivery, result: AttemptResult, max_attempts: int) -> None:
        # URLs are logged with %r, so control characters in a URL cannot forge log lines.
        if result.delivered:
            metrics.WEBHOOK_ATTEMPTS.labels("delivered").inc()
            logger.info(
                "Delivered webhook %s (%s of %s) to %r on attempt %d with HTTP %s",
                delivery.id,
                delivery.event,
                delivery.owner,
                result.url,
                delivery.attempt,
                result.status_code,
            )
        elif result.permanent:
            metrics.WEBHOOK_ATTEMPTS.labels("failed").inc()
            logger.error(
                "Webhook %s (%s of %s) to %r failed on attempt %d and is not retried, "
                "because a retry cannot succeed: %s",
                delivery.id,
                delivery.event,
                delivery.owner,
                result.url,
                delivery.attempt,
                result.error,
            )
        elif delivery.attempt >= max_attempts:
            metrics.WEBHOOK_ATTEMPTS.labels("failed").inc()
            logger.error(
                "Webhook %s (%s of %s) to %r failed on attempt %d of %d; no retries left: %s",
                delivery.id,
                delivery.event,
                delivery.owner,
                result.url,
                delivery.attempt,
                max_attempts,
                result.error,
            )
        else:
            metrics.WEBHOOK_ATTEMPTS.labels("retry").inc()
            logger.warning(
                "Webhook %s (%s of %s) to %r failed on attempt %d of %d; retrying later: %s",
                delivery.id,
                delivery.event,
                delivery.owner,
                result.url,
                delivery.attempt,
                max_attempts,
                result.error,
            )

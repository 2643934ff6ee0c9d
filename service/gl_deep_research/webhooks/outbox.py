"""Queue a webhook delivery inside the caller's transaction.

The caller passes the session that also writes the status change, so the
delivery row commits or rolls back together with it: a status change never
loses its webhook, and a rolled-back change never sends one. The sender
(`webhooks.sender`) picks the row up afterwards.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from gl_deep_research.db.models import WebhookDelivery, utcnow


def add_delivery(
    session: Session,
    *,
    url: str,
    encrypted_secret: str | None,
    event: str,
    payload: dict[str, Any],
    task_id: uuid.UUID | None = None,
    taskgroup_id: uuid.UUID | None = None,
) -> WebhookDelivery:
    """Add a pending delivery; `encrypted_secret` is the stored (Fernet) form."""
    now = utcnow()
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        task_id=task_id,
        taskgroup_id=taskgroup_id,
        url=url,
        secret=encrypted_secret,
        event=event,
        payload=payload,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    return delivery

"""Group webhooks are queued once per transition, in the status change's transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task, TaskGroup, WebhookDelivery, utcnow
from gl_deep_research.tasks.notify import record_status_change

pytestmark = pytest.mark.services


def make_group(database: Database, size: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    now = utcnow()
    group = TaskGroup(
        id=uuid.uuid4(),
        webhook_url="http://127.0.0.1:9/group",
        created_at=now,
        updated_at=now,
    )
    with database.session() as session:
        session.add(group)
    members = [
        Task(
            id=uuid.uuid4(),
            account_key="master",
            taskgroup_id=group.id,
            query=f"member {index}",
            profile="local",
            provider="local",
            params={},
            status="PENDING",
            error="",
            attempts=0,
            cancel_requested=False,
            created_at=now,
            # Marked enqueued, so the outbox sweeper of a running API leaves them alone.
            enqueued_at=now,
        )
        for index in range(size)
    ]
    with database.session() as session:
        session.add_all(members)
    return group.id, [member.id for member in members]


def change(database: Database, task_id: uuid.UUID, new_status: str) -> int:
    with database.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.status = new_status
        return record_status_change(session, task, lock_rows=True)


def group_events(database: Database, group_id: uuid.UUID) -> list[str]:
    with database.session() as session:
        return list(
            session.scalars(
                select(WebhookDelivery.event)
                .where(WebhookDelivery.taskgroup_id == group_id)
                .order_by(WebhookDelivery.created_at)
            )
        )


@pytest.mark.parametrize(
    ("outcomes", "final"),
    [
        (["SUCCESS", "SUCCESS"], "taskgroup.SUCCESS"),
        (["FAILURE", "REVOKED"], "taskgroup.FAILURE"),
        (["SUCCESS", "FAILURE"], "taskgroup.PARTIAL_FAILURE"),
    ],
    ids=["success", "failure", "partial"],
)
def test_transitions_queue_one_delivery_each(
    database: Database, outcomes: list[str], final: str
) -> None:
    group_id, members = make_group(database, 2)
    assert change(database, members[0], "STARTED") == 1
    assert change(database, members[1], "STARTED") == 0
    assert change(database, members[0], outcomes[0]) == 0
    assert change(database, members[1], outcomes[1]) == 1
    assert group_events(database, group_id) == ["taskgroup.STARTED", final]
    with database.session() as session:
        group = session.get(TaskGroup, group_id)
        assert group is not None
        assert group.notified_status == final.removeprefix("taskgroup.")


def test_rolled_back_change_queues_nothing(database: Database) -> None:
    group_id, members = make_group(database, 1)

    def fail_after_queueing() -> None:
        with database.session() as session:
            task = session.get(Task, members[0])
            assert task is not None
            task.status = "STARTED"
            record_status_change(session, task, lock_rows=True)
            raise RuntimeError("the status change fails after the delivery was added")

    with pytest.raises(RuntimeError):
        fail_after_queueing()
    assert group_events(database, group_id) == []
    with database.session() as session:
        task = session.get(Task, members[0])
        assert task is not None
        assert task.status == "PENDING"

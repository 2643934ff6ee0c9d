"""Signed, durable webhooks for task and task-group status changes."""

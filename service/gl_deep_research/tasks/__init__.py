"""The task service: create, read and run research tasks."""

"""Research engines, created per task by provider key (see `registry`)."""

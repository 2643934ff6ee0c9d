"""The Celery worker: `celery -A gl_deep_research.worker.celery_app worker -Q deep_research`."""

"""Task dispatch: Celery on a broker, or an in-process worker pool in embedded mode."""

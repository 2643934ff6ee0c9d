"""The HTTP layer: FastAPI routes that translate requests into task-service calls."""

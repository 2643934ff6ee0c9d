"""`gldr`: serve the API, run a worker, migrate, or run one research task.

gldr research "QUESTION" [--profile NAME] [--json]
gldr serve [--host HOST] [--port PORT]
gldr worker [-- extra celery options]
gldr beat [-- extra celery options]
gldr migrate
gldr openapi
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
from typing import Any

import click

from gl_deep_research.errors import ServiceError
from gl_deep_research.settings import ConfigurationError, Settings, load_settings

logger = logging.getLogger("gl_deep_research.cli")

# Celery from this interpreter's environment, so that `.venv/bin/gldr` works without
# the virtual environment on PATH.
CELERY = [sys.executable, "-m", "celery"]


class InputError(click.ClickException):
    """An error in the command's arguments, printed as one `Error:` line with exit code 2."""

    exit_code = 2


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as err:
        raise click.ClickException(str(err)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """GL Open DeepResearch: a self-hostable deep-research service."""


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision (under an advisory lock)."""
    from gl_deep_research.db.migrate import upgrade_database
    from gl_deep_research.logs import configure_logging

    settings = _settings()
    configure_logging(settings)
    upgrade_database(settings)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option("--port", default=8000, show_default=True, help="TCP port to listen on.")
@click.option("--workers", default=1, show_default=True, help="Number of uvicorn processes.")
@click.option(
    "--skip-migrations", is_flag=True, help="Start without upgrading the database schema first."
)
def serve(host: str, port: int, workers: int, skip_migrations: bool) -> None:
    """Run the HTTP API, migrating the database first unless --skip-migrations is given."""
    import uvicorn

    from gl_deep_research.db.migrate import upgrade_database
    from gl_deep_research.logs import configure_logging

    settings = _settings()
    if workers > 1 and not settings.celery_broker_url:
        # Each process would re-run the others' unfinished tasks at its start.
        raise click.UsageError(
            f"--workers {workers} needs CELERY_BROKER_URL; without a broker, tasks run in the "
            "API process, so serve with --workers 1."
        )
    configure_logging(settings)
    if not skip_migrations:
        upgrade_database(settings)
    # The API's lifespan runs the same check, but uvicorn would print a traceback.
    _check_profile_settings(settings)
    uvicorn.run(
        "gl_deep_research.api.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def _check_profile_settings(settings: Settings) -> None:
    from gl_deep_research.db.database import Database
    from gl_deep_research.profiles.startup import check_profile_settings

    database = Database(settings)
    try:
        check_profile_settings(settings, database)
    except ConfigurationError as err:
        raise click.ClickException(str(err)) from None
    finally:
        database.dispose()


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker on CELERY_QUEUE_NAME with WORKER_CONCURRENCY processes."""
    settings = _settings()
    _require_broker(settings, "worker")
    argv = [
        *CELERY,
        "-A",
        "gl_deep_research.worker.celery_app",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={settings.worker_concurrency}",
        f"--prefetch-multiplier={settings.worker_prefetch_multiplier}",
        "-Q",
        settings.celery_queue_name,
        *celery_args,
    ]
    if settings.worker_metrics_port is not None and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The pool processes write their metric samples here for the metrics endpoint.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gldr-metrics-")
    os.execv(argv[0], argv)  # noqa: S606


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def beat(celery_args: tuple[str, ...]) -> None:
    """Run Celery beat: the webhook retry sweep and the TABLE_CLEANUP_SCHEDULE job."""
    settings = _settings()
    _require_broker(settings, "beat")
    # Beat keeps its schedule file in GLDR_DATA_DIR and does not create the folder.
    settings.gldr_data_dir.mkdir(parents=True, exist_ok=True)
    argv = [*CELERY, "-A", "gl_deep_research.worker.celery_app", "beat", "--loglevel=INFO"]
    os.execv(argv[0], [*argv, *celery_args])  # noqa: S606


def _require_broker(settings: Settings, command: str) -> None:
    # Celery would fall back to amqp://localhost and retry the connection forever.
    if not settings.celery_broker_url:
        raise click.UsageError(
            f"gldr {command} needs CELERY_BROKER_URL, which is not set. Set it to the "
            "RabbitMQ URL, or run only `gldr serve`: without a broker, the API process "
            "runs the tasks and the webhook retries itself."
        )


@main.command()
def openapi() -> None:
    """Print the OpenAPI document; starts no server and touches no service."""
    from gl_deep_research.api.app import create_app

    click.echo(json.dumps(create_app(Settings()).openapi(), indent=2, sort_keys=True))


@main.command()
@click.argument("question")
@click.option("--profile", default=None, help="Profile name; the default profile when omitted.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print only the final task body, as the API returns it."
)
@click.option("--verbose", is_flag=True, help="Also print the service's log lines.")
def research(question: str, profile: str | None, as_json: bool, verbose: bool) -> None:
    """Run one research task through the task service and print its events and report."""
    from gl_deep_research.cli_research import run_research
    from gl_deep_research.logs import configure_logging

    settings = _settings()
    configure_logging(settings.model_copy(update={"log_level": "INFO" if verbose else "WARNING"}))
    try:
        body = asyncio.run(
            run_research(settings, question, profile, echo=None if as_json else _echo)
        )
    except ServiceError as err:
        # An invalid question or an unknown profile is the caller's input, so it
        # gets click's one-line error and usage exit code, not a traceback.
        raise InputError(err.message) from None
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        _print_report(body)
    sys.exit(0 if body["status"] == "SUCCESS" else 1)


def _echo(event_type: str, data: dict[str, Any]) -> None:
    line = _describe(event_type, data)
    if line:
        click.echo(line, err=True)


def _describe(event_type: str, data: dict[str, Any]) -> str | None:
    if event_type == "progress":
        return f"[{int(data.get('percent', 0)):3d}%] {data.get('step', '')}"
    if event_type == "thinking":
        return f"      thinking: {data.get('text') or data.get('message') or data}"
    if event_type == "activity":
        detail = data.get("query") or data.get("url") or data.get("tool") or ""
        return f"      {data.get('kind', 'activity')}: {detail}"
    if event_type == "source":
        return f"      source [{data.get('id')}] {data.get('title')}"
    if event_type == "status":
        return f"      status: {data.get('status')}"
    if event_type == "error":
        return f"      error: {data.get('error')}"
    return None


def _print_report(body: dict[str, Any]) -> None:
    if body["status"] != "SUCCESS":
        click.echo(f"\nTask {body['task_id']} ended {body['status']}: {body['error']}", err=True)
        return
    click.echo("")
    click.echo(body["data"]["result"])


if __name__ == "__main__":
    main()

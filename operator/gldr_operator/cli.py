"""`gldr-operator`: run the operator, or preview what it would create."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from gldr_operator.preview import PreviewError, preview_documents
from gldr_operator.render import Object


def _read_documents(paths: Sequence[Path]) -> Iterator[tuple[str, Object]]:
    for path in paths:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as err:
            raise PreviewError(f"{path}: invalid YAML: {err}") from err
        for document in documents:
            if isinstance(document, dict):
                yield str(path), document


def _render(args: argparse.Namespace) -> int:
    try:
        preview = preview_documents(_read_documents(args.files))
    except (OSError, yaml.YAMLError, PreviewError) as err:
        print(f"gldr-operator render: {err}", file=sys.stderr)
        return 1
    for note in preview.notes:
        print(f"gldr-operator render: note: {note}", file=sys.stderr)
    for problem in preview.problems:
        print(f"gldr-operator render: error: {problem}", file=sys.stderr)
    if preview.problems:
        # Nothing on stdout, so `render | kubectl apply -f -` applies nothing.
        print(
            f"gldr-operator render: {len(preview.problems)} profile problem(s); fix the "
            "ResearchProfiles or spec.defaultProfile and run render again.",
            file=sys.stderr,
        )
        return 1
    if not preview.objects:
        print(
            "gldr-operator render: no DeepResearchDeployment found in "
            f"{', '.join(map(str, args.files))}; pass its manifest with -f.",
            file=sys.stderr,
        )
        return 1
    sys.stdout.write(yaml.safe_dump_all(preview.objects, sort_keys=False))
    return 0


def _run(args: argparse.Namespace) -> int:
    # Imported here so `render` works without kopf's start-up cost.
    from gldr_operator.runner import RunOptions, run

    if args.namespace and args.all_namespaces:
        print("gldr-operator run: use either --namespace or --all-namespaces.", file=sys.stderr)
        return 2
    options = RunOptions(
        namespaces=tuple(args.namespace),
        metrics_port=args.metrics_port,
        liveness_endpoint=args.liveness,
        drift_interval=args.drift_interval,
        peering=args.peering,
    )
    run(options)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gldr-operator",
        description="Kubernetes operator for GL Open DeepResearch.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator against the current kubeconfig")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace; repeat for several (default: all namespaces)",
    )
    run.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (the default when no --namespace is given)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=9090,
        help="port of the Prometheus metrics endpoint; 0 disables it (default: 9090)",
    )
    run.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="URL the liveness endpoint listens on (default: http://0.0.0.0:8080/healthz)",
    )
    run.add_argument(
        "--drift-interval",
        type=float,
        default=60.0,
        help="seconds between full reconciles that undo drift of children (default: 60)",
    )
    run.add_argument(
        "--peering",
        default=None,
        help="name of a kopf peering object, so that only one of several operators is "
        "active; needs kopf's peering CRDs (default: standalone)",
    )
    run.set_defaults(handler=_run)

    render = commands.add_parser(
        "render", help="print the objects the operator would create, without a cluster"
    )
    render.add_argument(
        "-f",
        "--filename",
        dest="files",
        type=Path,
        action="append",
        required=True,
        help="manifest with DeepResearchDeployments and ResearchProfiles; '-' reads stdin",
    )
    render.set_defaults(handler=_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

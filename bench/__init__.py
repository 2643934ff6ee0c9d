"""Benchmarks of the service and the operator, each next to a baseline from the same run.

Run everything with `bench/run.sh` (or `uv run python -m bench`); see bench/README.md.
"""

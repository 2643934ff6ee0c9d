"""Serve an ASGI app with the uvicorn settings of `gldr serve`, on loopback.

Both the product's API and the baseline app are started through this
module, so the server, event loop, HTTP parser and logging settings are the
same for both: one process, `log_config=None`, proxy headers on.

Usage: python -m bench.serve MODULE:APP --port PORT
"""

from __future__ import annotations

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="ASGI app as MODULE:ATTRIBUTE")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    args = parser.parse_args()
    # The same keyword arguments as gl_deep_research.cli.serve, with the host fixed to loopback.
    uvicorn.run(
        args.app,
        host="127.0.0.1",
        port=args.port,
        workers=1,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()

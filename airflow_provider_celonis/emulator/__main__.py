"""``python -m airflow_provider_celonis.emulator --port 8765``: serve an emulated Celonis team.

With ``--port 0`` the OS picks a free port; the first line printed is always
``Celonis emulator listening on http://HOST:PORT`` so scripts can read the address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys

import uvicorn

from airflow_provider_celonis.emulator.app import create_app
from airflow_provider_celonis.emulator.stores.state import Settings, settings_from


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_celonis.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument(
        "--token-lifetime", type=int, default=899, help="expires_in of issued tokens, seconds"
    )
    parser.add_argument(
        "--settings", help="JSON object of further settings, e.g. '{\"scope_denied_status\": 401}'"
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    try:
        settings = settings_from(
            json.loads(args.settings or "{}"), Settings(token_lifetime=args.token_lifetime)
        )
    except ValueError as err:
        parser.error(f"--settings: {err}")

    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY on Linux; without it, Nagle plus the client's delayed
    # ACK add ~40 ms to every response that uvicorn writes as headers then body.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Celonis emulator listening on http://{shown}:{port}", flush=True)

    config = uvicorn.Config(
        create_app(settings), log_level=args.log_level, access_log=False, timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

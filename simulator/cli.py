"""`python -m simulator [--host H] [--port P] [--seed S]`: the simulator alone on a
port, after printing the environment that points the API server at it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulator.app import create_simulator


def env_lines(host: str, port: int) -> str:
    """The environment that points the API server at a running simulator."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    base = f"http://{netloc}"
    return (
        f"NAAP_API_SERVER_URL={base}/v1\n"
        f"SUBGRAPH_URL={base}/subgraph\n"
        f"L1_RPC_URL={base}/rpc\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn  # only the CLI needs a server

    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve the deterministic upstream simulator.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sys.stdout.write(env_lines(args.host, args.port))
    sys.stdout.flush()
    uvicorn.run(create_simulator(seed=args.seed), host=args.host, port=args.port)

"""The benchmark harness behind `make bench` and `make cold-start` (scripts/bench.py).

`make run`'s server and a bare Starlette baseline, loaded alike, side by side:
- targets: what is measured (the routes, the merged overview query, a result row)
- servers: starting and stopping the servers, their peak RSS, the cold start
- load: wrk or the asyncio + httpx generator, and the warm-up requests
- rounds: the interleaved rounds and one median row per target
- report: the tables, the target checks and BENCHMARKS.md
- live, live_clients: the push rows (the job feed to many listeners, its clients)
- cli: the options, and `main`, which runs it all
"""

"""Helpers shared by the test tiers (tests/unit, api, integration, fuzz); the
fixtures built on them are in tests/conftest.py. No test module imports another.

- app: settings, the movable clock, tokens, the app served in process, `gql`.
- developer: the Developer API's paths, envelopes and calls; the OAuth broker's steps.
- recorder: the simulator behind a recorder of the upstream requests an app makes.
- loopback: servers on loopback ports, free and closed ports, server processes.
- db: fresh databases on SQLite and PostgreSQL (TEST_POSTGRES_URL).
- redis_db: the Redis server of TEST_REDIS_URL, flushed.
- metrics: the app's Prometheus samples.
"""

"""The simulator's fault control over HTTP (simulator/control.py)."""

from __future__ import annotations

import httpx

from simulator import create_simulator


async def test_faults_are_set_replaced_and_cleared_over_http() -> None:
    sim = create_simulator(seed=1)
    transport = httpx.ASGITransport(app=sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        put = await http.put("/faults", json={"dashboard/kpi": {"status": 503}})
        assert put.status_code == 200
        assert put.json() == {"dashboard/kpi": {"latency": 0.0, "status": 503}}
        assert (await http.get("/v1/dashboard/kpi")).status_code == 503

        await http.put("/faults", json={"dashboard/fees": {"latency": 0.01}})
        assert set(sim.state.faults) == {"dashboard/fees"}
        assert (await http.get("/v1/dashboard/kpi")).status_code == 200

        assert (await http.delete("/faults")).json() == {}
        assert sim.state.faults == {}


async def test_a_malformed_fault_is_a_400_and_changes_nothing() -> None:
    sim = create_simulator(seed=1)
    transport = httpx.ASGITransport(app=sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        await http.put("/faults", json={"rpc": {"status": 500}})
        for body in (
            b"[]",
            b"{",
            b'{"rpc": {"colour": 1}}',
            b'{"rpc": {"status": "x"}}',
        ):
            answer = await http.put("/faults", content=body)
            assert answer.status_code == 400, body
            assert "error" in answer.json()
        assert set(sim.state.faults) == {"rpc"}

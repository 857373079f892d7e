"""PERSISTED_OPERATIONS_FILES: an Apollo-format manifest adds its operations (run by
hash, listed in the server's own manifest); every kind of bad manifest stops
startup with a message naming the file, the operation and the problem."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.graphql.persisted import PersistedOperationsError
from app.main import create_app
from app.settings import Settings
from rest_facade.prepare import OPERATIONS_DIR
from tests.support.app import Clock, serve

QUERY = "query PluginRound { protocol { currentRound totalBlocks } }"
MUTATION = (
    'mutation PluginProject { createProject(input: {name: "p"}) { project { id } } }'
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entry(body: str, **fields: Any) -> dict[str, Any]:
    return {"id": sha256(body), "body": body, "name": None, "type": "query", **fields}


def manifest(*operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": list(operations),
    }


@pytest.fixture
def write(tmp_path: Path) -> Any:
    def write_file(content: Any, name: str = "manifest.json") -> str:
        path = tmp_path / name
        text = content if isinstance(content, str) else json.dumps(content)
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write_file


@pytest.fixture
def build(settings: Settings, simulator: Starlette, clock: Clock) -> Any:
    def make(*files: str) -> Starlette:
        update = {"persisted_operations_files": files}
        return create_app(
            settings.model_copy(update=update), simulator=simulator, clock=clock
        )

    return make


async def test_a_manifest_adds_its_operations(write: Any, build: Any) -> None:
    path = write(
        manifest(
            entry(QUERY, name="PluginRound"),
            entry(MUTATION, name="PluginProject", type="mutation"),
        )
    )
    async with serve(build(path)) as http:
        listed = (await http.get("/graphql/persisted-operations.json")).json()
        response = await http.get(
            "/graphql",
            params={
                "extensions": json.dumps(
                    {"persistedQuery": {"version": 1, "sha256Hash": sha256(QUERY)}}
                )
            },
        )
    ids = {op["id"]: op for op in listed["operations"]}
    assert ids[sha256(QUERY)] == entry(QUERY, name="PluginRound")
    assert ids[sha256(MUTATION)]["type"] == "mutation"
    assert len(ids) == len(list(OPERATIONS_DIR.glob("*.graphql"))) + 2
    assert response.json()["data"]["protocol"]["totalBlocks"] > 0
    assert response.headers["cache-control"].startswith("public, ")


async def test_manifests_given_twice_or_overlapping_register_each_once(
    write: Any, build: Any
) -> None:
    first = write(manifest(entry(QUERY)), "a.json")
    second = write(manifest(entry(QUERY), entry(QUERY)), "b.json")
    async with serve(build(first, second)) as http:
        listed = (await http.get("/graphql/persisted-operations.json")).json()
    assert [op["id"] for op in listed["operations"]].count(sha256(QUERY)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"manifest\.json: not valid JSON"),
        ({"operations": []}, r"not an Apollo persisted-query manifest"),
        (
            manifest(entry(QUERY, id="0" * 64, name="PluginRound")),
            r"operation #0 \(PluginRound\): its id is not the SHA-256 of its body",
        ),
        (
            manifest(entry(QUERY), entry("{ protocol { nope } }", name="Broken")),
            r"operation #1 \(Broken\) does not validate against the schema: "
            r"Cannot query field 'nope'",
        ),
        (manifest(entry("{ protocol {")), r"operation #0 does not validate"),
        (
            manifest(entry(MUTATION, type="query")),
            r"its type is 'query' but its body is a mutation",
        ),
        (manifest({"id": 1, "body": QUERY}), r"needs a string `id` and `body`"),
        (manifest(entry(QUERY, type="read")), r"`type` is not one of"),
        ({**manifest(), "operations": ["x"]}, r"operation #0 is not an object"),
        (manifest(entry(f"{QUERY} {MUTATION}")), r"A persisted operation is one"),
        (manifest(entry(QUERY, name=5)), r"`name` is not a string"),
    ],
    ids=[
        "bad-json",
        "not-a-manifest",
        "id-not-the-hash",
        "does-not-validate",
        "syntax-error",
        "wrong-type",
        "id-not-a-string",
        "unknown-type",
        "not-an-object",
        "two-operations",
        "name-not-a-string",
    ],
)
def test_a_bad_manifest_stops_startup(
    write: Any, build: Any, content: Any, message: str
) -> None:
    path = write(content)
    with pytest.raises(PersistedOperationsError, match=message) as raised:
        build(path)
    assert path in str(raised.value)


def test_a_missing_manifest_stops_startup(build: Any, tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.json")
    with pytest.raises(PersistedOperationsError, match=r"cannot read .*absent\.json"):
        build(missing)


def test_a_manifest_is_validated_with_the_servers_limits(
    write: Any, settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    introspection = "{ __schema { queryType { name } } }"
    path = write(manifest(entry(introspection)))
    closed = settings.model_copy(
        update={"persisted_operations_files": (path,), "graphql_introspection": False}
    )
    with pytest.raises(PersistedOperationsError, match="does not validate"):
        create_app(closed, simulator=simulator, clock=clock)


async def test_the_variable_is_a_comma_separated_list(
    write: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write(manifest(entry(QUERY)), "a.json")
    second = write(manifest(entry(MUTATION, type="mutation")), "b.json")
    monkeypatch.setenv("PERSISTED_OPERATIONS_FILES", f" {first} , {second} ")
    assert Settings().persisted_operations_files == (first, second)


async def test_the_served_manifest_is_what_make_manifest_writes(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    from scripts.export_manifest import main

    target = tmp_path / "out.json"
    assert main(["export_manifest.py", str(target)]) == 0
    served = (await client.get("/graphql/persisted-operations.json")).json()
    assert json.loads(target.read_text()) == served

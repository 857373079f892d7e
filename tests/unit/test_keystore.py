"""Key preparation: what is stored of a raw key (hash, prefix, lookup id)."""

from __future__ import annotations

import pytest

from app.developer.crypto import key_hash
from app.developer.keystore import MAX_PREFIX_LENGTH, prepare_key
from app.developer.models import DevApiKey
from app.errors import BadRequest


async def test_prepared_key_keeps_the_spec_prefix_and_hash() -> None:
    prepared = await prepare_key("pmth_AbCdEfGhIjKlMnOp")
    assert prepared.prefix == "pmth_AbCd…"
    assert prepared.hash == key_hash("pmth_AbCdEfGhIjKlMnOp")
    assert len(prepared.lookup_id) == 16


async def test_prefix_of_a_very_long_key_fits_its_column() -> None:
    prepared = await prepare_key("x" * 300 + "_abcdefgh")
    column = DevApiKey.__table__.c.key_prefix.type.length  # type: ignore[attr-defined]
    assert column == MAX_PREFIX_LENGTH
    assert len(prepared.prefix) <= MAX_PREFIX_LENGTH
    assert prepared.prefix.startswith("xxxx")
    assert prepared.prefix.endswith("…")


async def test_oversized_key_is_refused_before_hashing() -> None:
    with pytest.raises(BadRequest, match="rawApiKey"):
        await prepare_key("k" * 5000)

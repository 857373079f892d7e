"""The test suite: tiers in tests/unit, api, integration and fuzz; helpers in
tests/support; fixtures in tests/conftest.py."""

import pytest

# The helpers in tests/support assert too: rewritten, their failures show the values
# (this runs before conftest.py imports any of them).
pytest.register_assert_rewrite("tests.support")

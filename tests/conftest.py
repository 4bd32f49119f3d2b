"""Shared fixtures. Async tests run on anyio's pytest plugin (shipped with httpx's anyio dependency)."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

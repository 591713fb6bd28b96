import os

import pytest

# Tests never reach a hub or send analytics.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from tests.builders import fixtures_dir  # noqa: E402


@pytest.fixture
def fixtures():
    """The real-data fixtures folder; skips the test with a reason when it is absent."""
    path = fixtures_dir()
    if path is None:
        pytest.skip(
            "real-data fixtures not found (set SMD_FIXTURES or put ../shared/fixtures beside the repo)"
        )
    return path

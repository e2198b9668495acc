import pytest


@pytest.fixture(autouse=True)
def _watchdog(hang_watchdog):
    """Every test here is async and talks to PostgreSQL: show where it waits if it hangs."""

"""Every setting is documented in the README with its flag, environment variable and default."""

from __future__ import annotations

import argparse

from convexpy.settings import SETTINGS, resolve

from .conftest import REPO_ROOT


def test_every_setting_is_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    for setting in SETTINGS:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{setting.flag}`")), None)
        assert row is not None, f"README has no row for {setting.flag}"
        for env in setting.env:
            assert f"`{env}`" in row, f"README row for {setting.flag} does not name ${env}"


def test_flags_win_over_environment_over_defaults():
    namespace = argparse.Namespace(port=4000)
    settings = resolve(namespace, {"CONVEXPY_PORT": "5000", "CONVEXPY_SITE_PORT": "5001", "POSTGRES_URL": "postgresql://h/db"})
    assert settings.port == 4000
    assert settings.site_port == 5001
    assert settings.database_url == "postgresql://h/db"
    assert settings.instance_name == "convex-self-hosted"
    assert str(settings.data_dir) == "convex_data"

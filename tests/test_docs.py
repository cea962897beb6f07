"""The documentation builds with every link resolved, and its generated parts are current."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from pipeline.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_strict(tmp_path):
    # The material theme announces its end of life on every build: not ours to act on.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "operations" / "index.html").exists()


def test_readme_is_a_front_door_and_nothing_points_at_the_shared_folder():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 240
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "../shared" not in path.read_text(), path


def _settings_reference():
    spec = importlib.util.spec_from_file_location("settings_reference", ROOT / "docs" / "settings_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_reference_is_generated_from_the_settings():
    generator = _settings_reference()
    page = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert generator.rendered_page(page) == page, "stale: run python docs/settings_reference.py"
    table = generator.settings_table()
    for name in Settings.model_fields:
        assert f"`NEWSFLOW_{name.upper()}`" in table or name == "database_url", name
    assert "| `DATABASE_URL` | unset |" in table


def test_every_setting_has_a_description():
    undescribed = [name for name, field in Settings.model_fields.items() if len(field.description or "") < 10]
    assert undescribed == []

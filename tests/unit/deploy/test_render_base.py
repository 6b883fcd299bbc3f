"""The committed base manifests are what deploy/k8s/tools/render_base.py writes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def load_renderer():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("render_base", ROOT / "deploy" / "k8s" / "tools" / "render_base.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_base"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_base_matches_the_renderer() -> None:
    for path, text in load_renderer().render().items():
        assert path.is_file() and path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale: run `uv run --frozen python deploy/k8s/tools/render_base.py`"
        )

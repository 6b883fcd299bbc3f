import json
from pathlib import Path

import pytest
from contracts import TOPICS
from contracts.export import schema_filename
from jsonschema import Draft202012Validator, FormatChecker


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "libs" / "contracts" / "schemas"


@pytest.fixture(scope="session")
def committed(schema_dir: Path) -> dict[str, dict]:
    """The committed JSON Schemas by topic, read from disk as a publisher in another language would."""
    return {spec.name: json.loads((schema_dir / schema_filename(spec)).read_text()) for spec in TOPICS}


@pytest.fixture(scope="session")
def validators(committed: dict[str, dict]) -> dict[str, Draft202012Validator]:
    return {topic: Draft202012Validator(schema, format_checker=FormatChecker()) for topic, schema in committed.items()}

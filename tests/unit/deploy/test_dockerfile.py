"""The Dockerfile builds from paths that exist, and each service's image runs `python -m <package> serve|migrate`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "deploy" / "k8s" / "Dockerfile"
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_every_copy_source_from_the_context_exists() -> None:
    copies = [rest for keyword, rest in _instructions() if keyword == "COPY" and "--from=" not in rest]
    assert copies, "the Dockerfile copies nothing from the build context"
    for rest in copies:
        *sources, _destination = shlex.split(rest)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"


def test_the_final_stage_carries_no_build_tools_and_is_not_root() -> None:
    stages = "\n".join(f"{k} {r}" for k, r in _instructions()).split("\nFROM ")
    final = stages[-1]
    assert "AS runtime" in final.splitlines()[0]
    assert "/usr/local/bin/uv" not in final and "uv sync" not in final
    assert "COPY --from=build /app /app" in final
    user = re.findall(r"^USER (\S+)", final, re.M)
    assert user and not user[-1].startswith(("root", "0")), user


def test_dependencies_come_from_the_lock() -> None:
    run = " ".join(rest for keyword, rest in _instructions() if keyword == "RUN")
    assert 'uv sync --frozen --no-dev --no-editable --package "${SERVICE}"' in run


@pytest.mark.parametrize("service", SERVICES)
def test_the_entrypoint_is_the_documented_module(service: str) -> None:
    package = service.replace("-", "_")
    main = ROOT / "services" / service / "src" / package / "__main__.py"
    assert main.is_file(), f"{service}: the entrypoint module {package} has no __main__.py"
    # The module's own docstring documents the commands the image and the manifests rely on.
    assert f"`python -m {package} serve|migrate`" in main.read_text()
    run = " ".join(rest for keyword, rest in _instructions() if keyword == "RUN")
    # The generated /app/entrypoint is `exec python -m <SERVICE with - -> _> "$@"`.
    assert "exec python -m %s" in run and "tr - _" in run
    for manifest, command in (("deployment.yaml", "serve"), ("migration-job.yaml", "migrate")):
        doc = yaml.safe_load((ROOT / "deploy" / "k8s" / "base" / service / manifest).read_text())
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["/app/entrypoint"], f"{service}/{manifest}"
        assert container["args"] == [command], f"{service}/{manifest} does not run {command}"

"""deploy/Dockerfile: multi-stage, slim, non-root, the pinned stack, the ports and settings of the code."""

from __future__ import annotations

import re
import shlex

from tests.fixtures.artefacts import DEFAULTS, DEPLOY, PYPROJECT, unknown_settings

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _args(name: str) -> list[str]:
    return [rest for word, rest in _instructions() if word == name]


def test_two_stages_on_the_slim_python_that_pyproject_requires():
    python = PYPROJECT["project"]["requires-python"]  # ">=3.11,<3.12"
    (default_image,) = [a.split("=", 1)[1] for a in _args("ARG") if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", default_image) and "3.11" in python
    stages = _args("FROM")
    assert [s.split()[-1] for s in stages] == ["build", "runtime"]
    assert all(s.startswith("${PYTHON_IMAGE}") for s in stages)
    assert any("--from=build" in c for c in _args("COPY"))


def test_the_pinned_stack_is_installed_from_pyproject():
    runs = " ".join(_args("RUN"))
    assert "pyproject.toml" in runs and "pip install -r" in runs and "pip install --no-deps ." in runs
    assert all("==" in dep for dep in PYPROJECT["project"]["dependencies"])  # pinned, so the image is too


def test_it_runs_as_an_unprivileged_user_after_the_last_stage_starts():
    instructions = _instructions()
    last_from = max(k for k, (word, _) in enumerate(instructions) if word == "FROM")
    users = [rest for word, rest in instructions[last_from:] if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_ports_settings_and_command_agree_with_the_code():
    exposed = {int(p) for a in _args("EXPOSE") for p in a.split()}
    assert {DEFAULTS.port, DEFAULTS.ray_dashboard_port} <= exposed
    env = dict(shlex.split(pair)[0].split("=", 1) for a in _args("ENV") for pair in shlex.split(a, posix=False))
    assert unknown_settings(env) == []
    assert env["MEALTWIN_PORT"] == str(DEFAULTS.port) and env["MEALTWIN_HOST"] == "0.0.0.0"
    (entrypoint,) = _args("ENTRYPOINT")
    assert "mealtwin" in entrypoint and "mealtwin" in PYPROJECT["project"]["scripts"]
    assert "tini" in entrypoint  # SIGTERM reaches mealtwin up, whose orderly stop runs


def test_the_build_context_leaves_out_what_the_image_does_not_need():
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "var", "tests"} <= set(ignored)

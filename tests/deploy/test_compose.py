"""deploy/compose.yaml: PostgreSQL, Redis, a Ray head running the twin and a Ray worker, with the
settings, ports and Ray environment of the code."""

from __future__ import annotations

import re

import yaml

from tests.fixtures.artefacts import DEFAULTS, DEPLOY, IMAGE, NODE_ENV, ROOT, SERVE_CONFIG, settings_from, unknown_settings

COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def _substituted(value: str) -> str:
    """Compose's ${NAME} and ${NAME:?message} with a stand-in value, as `docker compose config` would."""
    return re.sub(r"\$\{(\w+)(:?[?-][^}]*)?\}", lambda m: f"<{m.group(1)}>", value)


def _env(service: str) -> dict[str, str]:
    return {k: _substituted(str(v)) for k, v in SERVICES[service]["environment"].items()}


def test_the_services_and_the_image_they_share():
    assert set(SERVICES) == {"postgres", "redis", "twin", "ray-worker"}
    for name in ("twin", "ray-worker"):
        assert SERVICES[name]["image"] == IMAGE
        build = SERVICES[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
        assert (DEPLOY / build["context"]).resolve() == ROOT


def test_the_twin_settings_name_real_settings_and_reach_postgres_and_redis():
    env = _env("twin")
    assert unknown_settings(env) == []
    settings = settings_from({k: v for k, v in env.items() if k.startswith("MEALTWIN_")})
    assert settings.database_url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in settings.database_url
    assert settings.redis_url == "redis://redis:6379/0"
    db = SERVICES["postgres"]["environment"]
    assert settings.database_url.endswith(f"/{db['POSTGRES_DB']}") and f"//{db['POSTGRES_USER']}:" in settings.database_url
    assert set(SERVICES["twin"]["depends_on"]) == {"postgres", "redis"}


def test_the_api_port_is_the_serve_configs_and_published():
    settings = settings_from({k: v for k, v in _env("twin").items() if k.startswith("MEALTWIN_")})
    assert settings.port == SERVE_CONFIG["http_options"]["port"] == DEFAULTS.port
    assert settings.host == "0.0.0.0"
    published = {p.rsplit(":", 1)[-1]: p for p in SERVICES["twin"]["ports"]}
    assert str(settings.port) in published and str(DEFAULTS.ray_dashboard_port) in published
    assert published[str(DEFAULTS.ray_dashboard_port)].startswith("127.0.0.1:")  # the dashboard stays local


def test_the_worker_joins_the_head_the_twin_connects_to():
    head = " ".join(SERVICES["twin"]["command"])
    gcs_port = re.search(r"ray start --head --port=(\d+)", head).group(1)
    assert settings_from({"MEALTWIN_RAY_ADDRESS": _env("twin")["MEALTWIN_RAY_ADDRESS"]}).ray_address == f"127.0.0.1:{gcs_port}"
    assert f"--address=twin:{gcs_port}" in SERVICES["ray-worker"]["command"]
    assert "exec mealtwin up" in head  # mealtwin becomes tini's child and gets SIGTERM itself


def test_every_ray_node_has_the_environment_the_code_gives_a_local_ray_and_the_token():
    for name in ("twin", "ray-worker"):
        env = _env(name)
        assert {k: env.get(k) for k in NODE_ENV} == NODE_ENV
        assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN"] == "<RAY_AUTH_TOKEN>"


def test_the_orderly_stop_has_time():
    grace = SERVICES["twin"]["stop_grace_period"]
    assert int(grace.rstrip("s")) >= 30

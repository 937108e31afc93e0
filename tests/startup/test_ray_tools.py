"""`ray.env` tells Ray's command line where the twin's Ray is and how to authenticate, never the token."""

from __future__ import annotations

from pathlib import Path

from actors.remote import RayEndpoints
from startup.ray_tools import ray_tool_env, read_ray_env, write_ray_env


def test_token_auth_points_at_the_token_file_and_the_dashboard_when_there_is_one():
    endpoints = RayEndpoints("10.0.0.5:41000", "http://127.0.0.1:8265", token_auth=True)
    env = ray_tool_env(endpoints, {})
    assert env == {"RAY_ADDRESS": "10.0.0.5:41000", "RAY_DASHBOARD_ADDRESS": "http://127.0.0.1:8265",
                   "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(Path.home() / ".ray" / "auth_token")}
    assert ray_tool_env(endpoints, {"RAY_AUTH_TOKEN_PATH": "/etc/ray/token"})["RAY_AUTH_TOKEN_PATH"] == "/etc/ray/token"


def test_a_token_given_in_the_environment_is_not_written_out():
    env = ray_tool_env(RayEndpoints("h:1", None, token_auth=True), {"RAY_AUTH_TOKEN": "secret"})
    assert "secret" not in env.values() and "RAY_AUTH_TOKEN_PATH" not in env
    assert "RAY_DASHBOARD_ADDRESS" not in env


def test_the_file_reads_back_as_written(tmp_path):
    endpoints = RayEndpoints("h:1", "http://127.0.0.1:9", token_auth=False)
    path = write_ray_env(str(tmp_path / "var"), endpoints)
    assert read_ray_env(path) == ray_tool_env(endpoints)
    assert "RAY_AUTH_MODE" not in read_ray_env(path)

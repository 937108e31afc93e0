"""Pointing Ray's own command-line tools (`ray status`, `serve status`, `serve deploy`) at the
twin's Ray: the variables they read, written to `<data_dir>/ray.env` at every start.

Several Rays may run on one machine (two twins, a test run), so the tools are told the twin's
addresses rather than left to guess. A Ray started by `ray.init` turns on Ray's token
authentication and keeps the token where Ray's clients look by default (`~/.ray/auth_token`, or
`RAY_AUTH_TOKEN_PATH`), but Ray's command line only sends it when `RAY_AUTH_MODE=token` is set:
the file says so. It never holds the token itself.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from actors.remote import RayEndpoints

RAY_ENV_FILE = "ray.env"


def ray_tool_env(endpoints: RayEndpoints, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables that point `ray` and `serve` at this Ray."""
    environ = os.environ if environ is None else environ
    env = {"RAY_ADDRESS": endpoints.gcs_address}
    if endpoints.dashboard_url:
        env["RAY_DASHBOARD_ADDRESS"] = endpoints.dashboard_url
    if endpoints.token_auth:
        env["RAY_AUTH_MODE"] = "token"
        if "RAY_AUTH_TOKEN" not in environ:  # a token given in the environment stays there
            env["RAY_AUTH_TOKEN_PATH"] = environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    return env


def write_ray_env(data_dir: str, endpoints: RayEndpoints) -> Path:
    """Write `<data_dir>/ray.env` (shell syntax: `set -a; . var/ray.env; set +a`). Returns its path."""
    path = Path(data_dir) / RAY_ENV_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}={shlex.quote(value)}" for name, value in ray_tool_env(endpoints).items()]
    path.write_text("# Ray's own tools against this twin's Ray (written by `mealtwin up`)\n" + "\n".join(lines) + "\n")
    return path


def read_ray_env(path: Path) -> dict[str, str]:
    """The variables of a `ray.env` file (as a test or a script would pass them to a subprocess)."""
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env

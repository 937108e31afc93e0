"""A file-based model registry: every trained version with what it scored and what made it.

Layout under `root`:
    models/<kind>/<version>/model.bin   the model (pickled estimator, torch state dict, ...)
    models/<kind>/<version>/meta.json   metrics, training window, data description and hash,
                                        code version, created_at
    models/<kind>/served.json           which version is served, and why

One writer at a time is assumed; every file is written to a temporary name and renamed, so a
reader never sees half a version or half a pointer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

MODEL_FILE = "model.bin"
META_FILE = "meta.json"
SERVED_FILE = "served.json"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class Registry:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def kind_dir(self, kind: str) -> Path:
        if not kind or "/" in kind or kind.startswith("."):
            raise ValueError(f"bad model kind {kind!r}")
        return self.root / "models" / kind

    # ------------------------------------------------------------- writing

    def register(self, kind: str, model: bytes | Path | str, meta: dict) -> str:
        """Store a new version of `kind` (the model's bytes, or a file to copy) with `meta`; returns
        the version, `v<n>` one above the newest."""
        folder = self.kind_dir(kind)
        folder.mkdir(parents=True, exist_ok=True)
        version = f"v{self._next_number(kind)}"
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{version}."))
        try:
            if isinstance(model, bytes):
                (staging / MODEL_FILE).write_bytes(model)
            else:
                shutil.copyfile(model, staging / MODEL_FILE)
            full = {"kind": kind, "version": version, "created_at": _now(), "code_version": code_version(),
                    "model_sha256": _sha256(staging / MODEL_FILE), **meta}
            (staging / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True, default=str))
            os.rename(staging, folder / version)  # fails if the version exists: never overwrite one
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return version

    def promote_if_better(self, kind: str, version: str, metric: str, higher_is_better: bool,
                          incumbent_value: float | None = None) -> bool:
        """Serve `version` if its backtest `metric` beats the served version's (or nothing is served
        yet); returns whether it was promoted. A tie keeps the served one, and so does a served
        version without that metric. `incumbent_value`: the served model re-scored on the
        candidate's own backtest window, which is the fairer comparison; by default, the figure
        recorded when the served model was trained."""
        candidate = float(self.meta(kind, version)["metrics"][metric])
        served = self.served(kind)
        if served == version:
            return False
        if served is not None:
            incumbent = incumbent_value
            if incumbent is None:
                incumbent = self.meta(kind, served).get("metrics", {}).get(metric)
            if incumbent is None:
                return False
            better = candidate > incumbent if higher_is_better else candidate < incumbent
            if not better:
                return False
        pointer = {"version": version, "metric": metric, "value": candidate, "replaced": served,
                   "promoted_at": _now()}
        _atomic_text(self.kind_dir(kind) / SERVED_FILE, json.dumps(pointer, indent=2, default=str))
        return True

    # ------------------------------------------------------------- reading

    def served(self, kind: str) -> str | None:
        path = self.kind_dir(kind) / SERVED_FILE
        return json.loads(path.read_text())["version"] if path.exists() else None

    def list(self, kind: str) -> list[dict]:
        """Every version's meta, oldest first."""
        folder = self.kind_dir(kind)
        if not folder.exists():
            return []
        versions = [p.name for p in folder.iterdir() if p.is_dir() and _number(p.name) is not None]
        return [self.meta(kind, v) for v in sorted(versions, key=_number)]

    def meta(self, kind: str, version: str) -> dict:
        return json.loads((self.kind_dir(kind) / version / META_FILE).read_text())

    def model_path(self, kind: str, version: str) -> Path:
        return self.kind_dir(kind) / version / MODEL_FILE

    def load_bytes(self, kind: str, version: str) -> bytes:
        return self.model_path(kind, version).read_bytes()

    def _next_number(self, kind: str) -> int:
        folder = self.kind_dir(kind)
        numbers = [_number(p.name) for p in folder.iterdir() if p.is_dir()]
        return max([n for n in numbers if n is not None], default=0) + 1


def data_hash(*arrays: np.ndarray) -> str:
    """A short digest of the arrays a model was trained on, to tell data sets apart."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(memoryview(a.tobytes()))
    return h.hexdigest()[:16]


@cache
def code_version() -> str:
    """The git commit of the checkout (with a digest of the model sources when they differ from it);
    outside a checkout, the package version and that digest."""
    sources = _sources_digest()
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--", "ml", "simulation", "twin")
        return f"{commit}+{sources}" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        try:
            version = metadata.version("mealtwin")
        except metadata.PackageNotFoundError:
            version = "unknown"
        return f"mealtwin-{version}+{sources}"


def _sources_digest() -> str:
    h = hashlib.sha256()
    for folder in ("ml", "simulation"):
        for path in sorted((_PACKAGE_ROOT / folder).rglob("*.py")):
            h.update(path.relative_to(_PACKAGE_ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=_PACKAGE_ROOT, capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.strip()


def _number(name: str) -> int | None:
    return int(name[1:]) if name.startswith("v") and name[1:].isdigit() else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_text(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, target)

"""Background jobs on the models (retraining), each a small JSON file beside the registry: its
status, progress and outcome. Any process that can see the models' folder can run a job or read
its state, which is what lets the API hand a job to a Ray worker and still report its progress."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

ACTIVE = ("queued", "running")
ABANDONED_AFTER_S = 1800.0  # a running job that has not reported for this long was stopped with its process


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class JobFiles:
    def __init__(self, root: Path | str) -> None:
        self.dir = Path(root) / "jobs"

    def create(self, kind: str, requested_by: str) -> dict:
        job = {"id": uuid.uuid4().hex, "kind": kind, "status": "queued", "requested_by": requested_by,
               "progress": {"stage": "queued", "fraction": 0.0}, "result": None, "error": None,
               "created_at": _now(), "started_at": None, "finished_at": None}
        self._write(job)
        return job

    def get(self, job_id: str) -> dict | None:
        if not job_id.isalnum():
            return None
        try:
            return json.loads((self.dir / f"{job_id}.json").read_text())
        except FileNotFoundError:
            return None

    def list(self, limit: int = 50) -> list[dict]:
        if not self.dir.exists():
            return []
        jobs = [json.loads(p.read_text()) for p in self.dir.glob("*.json")]
        return sorted(jobs, key=lambda j: j["created_at"], reverse=True)[:limit]

    def active(self, kind: str) -> dict | None:
        """The job of `kind` still queued or running, if any; one silent for too long is marked failed."""
        for job in self.list(1000):
            if job["kind"] != kind or job["status"] not in ACTIVE:
                continue
            silent_s = time.time() - (self.dir / f"{job['id']}.json").stat().st_mtime
            if silent_s < ABANDONED_AFTER_S:
                return job
            self.update(job["id"], status="failed", finished_at=_now(),
                        error="interrupted: the process running it stopped")
        return None

    def update(self, job_id: str, **fields) -> dict:  # noqa: ANN003
        job = self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        job.update(fields)
        self._write(job)
        return job

    def _write(self, job: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(job, out, default=str)
        os.replace(tmp, self.dir / f"{job['id']}.json")  # readers never see half a file


def run_job(root: Path | str, job_id: str, work: Callable[[Callable[[str, float], None]], dict]) -> dict:
    """Run `work(progress)` as job `job_id`, recording its progress and outcome. Never raises: a
    job's failure is its own, stored for whoever asks."""
    jobs = JobFiles(root)
    jobs.update(job_id, status="running", started_at=_now())

    def progress(stage: str, fraction: float) -> None:
        jobs.update(job_id, progress={"stage": stage, "fraction": round(min(max(fraction, 0.0), 1.0), 3)})

    try:
        result = work(progress)
    except Exception as exc:  # noqa: BLE001
        return jobs.update(job_id, status="failed", finished_at=_now(),
                           error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=5))
    return jobs.update(job_id, status="done", finished_at=_now(), result=result,
                       progress={"stage": "done", "fraction": 1.0})

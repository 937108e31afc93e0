"""Job files: a job's life recorded for any process to read, failures kept, a job whose process
died marked as interrupted instead of blocking the next one forever."""

import os
import time

from ml.jobs import ABANDONED_AFTER_S, JobFiles, run_job


def test_a_job_records_progress_and_its_outcome(tmp_path):
    jobs = JobFiles(tmp_path)
    job = jobs.create("retrain", "user:1")
    assert jobs.active("retrain")["id"] == job["id"]
    seen = []

    def work(progress):  # noqa: ANN001, ANN202
        progress("halfway", 0.5)
        seen.append(jobs.get(job["id"])["progress"])
        return {"served": "v2"}

    done = run_job(tmp_path, job["id"], work)
    assert seen == [{"stage": "halfway", "fraction": 0.5}]
    assert (done["status"], done["result"], done["progress"]["fraction"]) == ("done", {"served": "v2"}, 1.0)
    assert jobs.active("retrain") is None


def test_a_failure_is_stored_not_raised(tmp_path):
    job = JobFiles(tmp_path).create("retrain", "schedule")
    failed = run_job(tmp_path, job["id"], lambda progress: 1 / 0)
    assert failed["status"] == "failed" and failed["error"].startswith("ZeroDivisionError")


def test_a_silent_running_job_is_marked_interrupted(tmp_path):
    jobs = JobFiles(tmp_path)
    job = jobs.update(jobs.create("retrain", "schedule")["id"], status="running")
    old = time.time() - ABANDONED_AFTER_S - 1
    os.utime(jobs.dir / f"{job['id']}.json", (old, old))
    assert jobs.active("retrain") is None
    assert jobs.get(job["id"])["status"] == "failed" and "interrupted" in jobs.get(job["id"])["error"]
    assert jobs.get("../../etc/passwd") is None  # ids are not paths

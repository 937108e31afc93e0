"""The follower actor runs its job in a process of its own, found by name (one per twin), and
starts it again after a failure (after `RESTART_PAUSE_S`)."""

import time

import ray

from actors import follower


def _runs(marks) -> int:  # noqa: ANN001
    return marks.read_text().count("ran") if marks.exists() else 0


def test_the_follower_runs_its_job_once_by_name_and_again_after_a_failure(ray_session, tmp_path):
    marks = tmp_path / "runs.txt"

    async def job() -> None:
        with marks.open("a") as out:
            out.write("ran\n")
        raise RuntimeError("the broker went away")

    actor = follower.start_follower(job, "test-follower")
    try:
        again = follower.start_follower(job, "test-follower")  # a second replica asking: the same actor, one job
        assert again._actor_id == actor._actor_id  # noqa: SLF001
        deadline = time.monotonic() + 60
        while _runs(marks) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        status = ray.get(actor.status.remote())
        assert _runs(marks) >= 2 and status["failures"] >= 2 and status["running"]
    finally:
        ray.kill(actor)

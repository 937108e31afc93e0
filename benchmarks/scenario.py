"""`mealtwin bench scenario`: one 30-day replication of all of Tamil Nadu, then 200 replications
of a baseline and one plan, without Ray (serial) and as Ray tasks, in the same run."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from actors.remote import shutdown_ray, start_ray
from actors.replication_pool import RayReplicationPool, serial_map
from scenarios.compile import compile_scenario
from scenarios.montecarlo import run_compiled
from scenarios.spec import Plan, ScenarioSpec, Stopping
from simulation.engine import Engine
from simulation.start_state import synthetic_start

START = dt.date(2025, 11, 3)  # the north-east monsoon: the world's weather at work
WARM_UP_DAYS = 14


def run(schools: int = 43_000, days: int = 30, reps: int = 200, seed: int = 0, object_store_mib: int = 512,
        worker_niceness: int = 0, say: Callable[[str], None] = lambda m: None) -> dict:
    """`worker_niceness`: Ray starts its workers at niceness 15, so on a shared machine its tasks
    yield to every other process while the serial side (this process) runs at 0; the default
    measures both at 0. None keeps Ray's own default."""
    say(f"building the start: {schools:,} schools, world run {WARM_UP_DAYS} days to {START}")
    start = synthetic_start(schools, seed, START, warm_up_days=WARM_UP_DAYS)
    spec = ScenarioSpec(name="bench", start=START, horizon_days=days, seed=seed,
                        plans=[Plan(name="buffer-45", buffer_days=45, top_up_at_start=True)],
                        stopping=Stopping(reps_min=reps, reps_max=reps))
    compiled = compile_scenario(spec, start)
    engine = Engine(compiled.start, compiled.inputs)
    engine.run(compiled.plans[0], 0)  # numba kernels loaded, caches warm
    times, cpu_times, events = [], [], []
    for r in range(7):
        t, c = time.perf_counter(), time.process_time()
        out = engine.run(compiled.plans[0], r)
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
        events.append(out.simpy_events)
    replication_ms = statistics.median(times) * 1000
    say(f"one replication: {replication_ms:.0f} ms; {reps} x {len(compiled.plans)} serial ...")

    t = time.perf_counter()
    serial = run_compiled(spec, compiled, serial_map, workers=1)
    serial_s = time.perf_counter() - t
    say(f"serial {serial_s:.1f} s; starting Ray")

    t = time.perf_counter()
    start_ray(None, object_store_mib,
              env={} if worker_niceness is None else {"RAY_worker_niceness": str(worker_niceness)})
    ray_start_s = time.perf_counter() - t
    try:
        pool = RayReplicationPool()
        workers = pool.workers
        t = time.perf_counter()
        pool(_warm, [(k,) for k in range(workers)])  # worker processes up, engine imported
        ray_warmup_s = time.perf_counter() - t
        t = time.perf_counter()
        on_ray = run_compiled(spec, compiled, pool, workers=workers)
        total_s = time.perf_counter() - t
        pool.close()
    finally:
        shutdown_ray()
    same = all(
        np.allclose([a.kpis[k].mean for k in a.kpis], [b.kpis[k].mean for k in b.kpis], rtol=0, atol=1e-6)
        for a, b in zip(serial.plans, on_ray.plans)
    )
    return {
        "schools": len(compiled.start),
        "days": days,
        "replication_ms": round(replication_ms, 1),
        "replication_cpu_ms": round(statistics.median(cpu_times) * 1000, 1),  # robust to a busy machine
        "reps": on_ray.replications,
        "plans": len(compiled.plans),
        "total_s": round(total_s, 2),
        "serial_s": round(serial_s, 2),
        "speedup": round(serial_s / total_s, 2),
        "simpy_events_per_s": round(serial.simpy_events / serial.simulate_s),
        "simpy_events_per_replication": int(statistics.median(events)),
        "ray_workers": workers,
        "ray_engine_s": round(on_ray.simulate_s, 2),  # engine time summed over the tasks: ~2x total_s if parallel
        "ray_engine_cpu_s": round(on_ray.simulate_cpu_s, 2),  # their CPU time: below ray_engine_s when waiting
        "serial_engine_cpu_s": round(serial.simulate_cpu_s, 2),
        "ray_start_s": round(ray_start_s, 2),
        "ray_warmup_s": round(ray_warmup_s, 2),
        "same_results_serial_and_ray": bool(same),
        "ray_worker_niceness": worker_niceness,
        "cpus": os.cpu_count(),
    }


def _warm(k: int) -> int:
    """A tiny run in a worker: imports the engine and loads its compiled kernels before timing."""
    from simulation.levers import PlanLevers, Reallocation, ScenarioInputs
    from simulation.start_state import StartState
    from simulation.synthetic_schools import generate_schools

    tiny = StartState.from_schools(generate_schools(400, k), START)
    Engine(tiny, ScenarioInputs(3, k)).run(PlanLevers(reallocation=Reallocation(3, 10, 6)), 0)
    return k

"""The twin's API under the crowd that uses it: district officers on dashboards and alerts, block
officers on school lists and details, school admins posting the day's attendance, integrations
posting batches, and API clients asking for risk and forecasts. Each user signs in as its own role
and area with a token made in advance (the load measures the API, not bcrypt).

Run by `mealtwin bench load` (headless, against a twin it starts); by hand:
    MEALTWIN_LOAD_PLAN=plan.json locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000
where the plan (written by `benchmarks.load.write_plan`) holds the tokens, places and the twin's day.
Requests are named by route template, so the statistics group as the API's routes do.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid

from locust import FastHttpUser, between, task
from locust import events as locust_events

_PLAN = json.loads(open(os.environ["MEALTWIN_LOAD_PLAN"]).read())  # noqa: SIM115 - read once, at import by locust
_API = "/api/v1"
# Where each accepted POST /events spent its time, from its Server-Timing header (prepare, log,
# apply): {request name: {stage: [ms, ...]}}, written where the plan says when Locust stops.
_STAGES: dict[str, dict[str, list[float]]] = {}


def _identities(kind: str):  # noqa: ANN202
    return itertools.cycle(_PLAN[kind])


_NEXT = {kind: _identities(kind) for kind in ("district_officers", "block_officers", "school_admins", "integrations",
                                               "api_clients")}


class _Signed(FastHttpUser):
    abstract = True
    wait_time = between(1, 5)
    kind = ""

    def on_start(self) -> None:
        self.me = next(_NEXT[self.kind])
        self.auth = {"Authorization": f"Bearer {self.me['token']}"}

    def get(self, path: str, name: str) -> None:
        self.client.get(f"{_API}{path}", headers=self.auth, name=name)

    def post_events(self, query: str, batch: list[dict], name: str) -> None:
        response = self.client.post(f"{_API}/events{query}", json={"events": batch}, headers=self.auth, name=name)
        stages = _STAGES.setdefault(name, {})
        for part in (response.headers.get("server-timing") or "").split(","):
            stage, _, duration = part.strip().partition(";dur=")
            if duration:
                stages.setdefault(stage, []).append(float(duration))


@locust_events.quitting.add_listener
def _write_stages(environment, **_kwargs) -> None:  # noqa: ANN001
    if "stages_path" in _PLAN:
        with open(_PLAN["stages_path"], "w") as out:
            json.dump(_STAGES, out)


class DistrictOfficer(_Signed):
    """Watches the district: its dashboard, its alerts, the cascade, the list of its schools at risk."""

    weight = 2
    kind = "district_officers"

    @task(4)
    def dashboard(self) -> None:
        self.get(f"/twin/districts/{self.me['district']}", "/twin/districts/{name}")

    @task(2)
    def alerts(self) -> None:
        self.get(f"/alerts?district={self.me['district']}&page_size=20", "/alerts")

    @task(2)
    def unread(self) -> None:
        self.get("/alerts/unread-count", "/alerts/unread-count")

    @task(1)
    def cascade(self) -> None:
        self.get(f"/predictions/cascade/districts/{self.me['district']}", "/predictions/cascade/districts/{name}")

    @task(1)
    def schools_at_risk(self) -> None:
        self.get(f"/schools?district={self.me['district']}&risk_level=high&page_size=50", "/schools")


class BlockOfficer(_Signed):
    """Works through the block's schools: the list, a school's record and live twin, the block."""

    weight = 3
    kind = "block_officers"

    @task(3)
    def school_list(self) -> None:
        page = random.randint(1, 3)
        self.get(f"/schools?district={self.me['district']}&block={self.me['block']}&page={page}&page_size=50",
                 "/schools")

    @task(3)
    def school_twin(self) -> None:
        self.get(f"/twin/schools/{random.choice(self.me['schools'])}", "/twin/schools/{id}")

    @task(2)
    def school_record(self) -> None:
        self.get(f"/schools/{random.choice(self.me['schools'])}", "/schools/{id}")

    @task(2)
    def block_twin(self) -> None:
        self.get(f"/twin/blocks/{self.me['block']}?district={self.me['district']}", "/twin/blocks/{name}")

    @task(1)
    def search(self) -> None:
        self.get(f"/schools/search?q={self.me['block'][:4]}", "/schools/search")


class SchoolAdmin(_Signed):
    """Reports the day's attendance (a correction when sent again) and looks at the school."""

    weight = 3
    kind = "school_admins"

    @task(2)
    def report(self) -> None:
        present = random.randint(40, 90)
        event = {"type": "attendance_reported", "event_id": f"load-{uuid.uuid4().hex}", "date": _PLAN["day"],
                 "school_id": self.me["school_id"], "present": present, "meals_served": {"primary": present}}
        self.post_events("", [event], "/events (one)")

    @task(3)
    def my_school(self) -> None:
        self.get(f"/twin/schools/{self.me['school_id']}", "/twin/schools/{id}")

    @task(1)
    def my_risk(self) -> None:
        self.get(f"/predictions/risk/{self.me['school_id']}", "/predictions/risk/{id}")


class Integration(_Signed):
    """A partner system posting its schools' reports in batches."""

    weight = 1
    kind = "integrations"
    wait_time = between(2, 6)

    @task
    def batch(self) -> None:
        events = []
        for school in random.sample(self.me["schools"], min(100, len(self.me["schools"]))):
            present = random.randint(40, 90)
            events.append({"type": "attendance_reported", "event_id": f"load-{uuid.uuid4().hex}",
                           "date": _PLAN["day"], "school_id": school, "present": present,
                           "meals_served": {"primary": present}})
        self.post_events("?results=problems", events, "/events (batch of 100)")


class ApiClient(_Signed):
    """An analyst's program asking for risk and forecasts (forecasts only when a model serves them)."""

    weight = 1
    kind = "api_clients"

    def risk(self) -> None:
        self.get(f"/predictions/risk/{random.choice(self.me['schools'])}", "/predictions/risk/{id}")

    def risk_factors(self) -> None:
        self.get(f"/predictions/risk-factors/{random.choice(self.me['schools'])}", "/predictions/risk-factors/{id}")

    def forecast(self) -> None:
        self.get(f"/predictions/forecast/{random.choice(self.me['schools'])}", "/predictions/forecast/{id}")

    tasks = {risk: 3, risk_factors: 1, **({forecast: 2} if _PLAN["forecasts"] else {})}

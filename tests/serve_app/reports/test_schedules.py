"""Scheduled reports: the API (create, list, read, pause, resume, delete, deliveries; owner and area
only; bad input naming the field) and their delivery by email to a real SMTP server, once per
schedule and period with two replicas ticking at once and across a restart, a lapsed claim taken
over, retries with backoff and a permanent refusal."""

import asyncio
import datetime as dt
import io

import httpx
import pytest
from pypdf import PdfReader

from adapters.report_mail import SmtpReportMailer
from configs import Settings
from db.account_repository import UserRepository
from db.engine import create_engine
from db.report_schedule_repository import ReportScheduleRepository
from serve_app.reports.cadence import INDIA, Cadence, latest_due, period_key
from serve_app.reports.scheduled_delivery import Backoff, ScheduledDelivery
from tests.fixtures.app import running_app, token_for
from tests.fixtures.delivery import smtp  # noqa: F401 - a fixture
from tests.fixtures.delivery_receivers import SmtpReceiver
from tests.fixtures.ports import free_port
from tests.fixtures.report_world import ARIYALUR_IDS, report_app
from twin.area import STATE, Area

API = "/api/v1/reports/schedule"
OFFICER = Area("Ariyalur")
WEEKLY_PDF = {"name": "Ariyalur weekly", "format": "pdf", "level": "district", "frequency": "weekly",
              "at_time": "07:30", "weekday": 0, "recipients": ["DEO@example.org", "deo@example.org", "cao@example.org"]}
DAILY_CSV = {"name": "Sendurai daily", "format": "csv", "kind": "schools", "district": "Ariyalur",
             "block": "Sendurai", "frequency": "daily", "at_time": "18:00", "recipients": ["beo@example.org"]}


def _as(app, role: str = "state_admin", area: Area = STATE, subject: str = "user:1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://twin",
                             headers={"Authorization": f"Bearer {token_for(app, role, area, subject)}"})


# the accounts the tests' tokens name: a schedule is sent only while its owner's account may read its area
OWNERS = {7: ("district_officer", "Ariyalur", None), 8: ("district_officer", "Ariyalur", None),
          9: ("block_officer", "Ariyalur", "Sendurai")}


@pytest.fixture
async def replicas(database_url):
    settings = Settings(database_url=database_url)
    async with report_app(settings) as one:
        async with running_app(settings) as two:
            engine = create_engine(database_url)
            users = UserRepository(engine)
            for user_id, (role, district, block) in OWNERS.items():
                await users.create({"id": user_id, "email": f"officer{user_id}@example.org", "full_name": "An officer",
                                    "password_hash": "-", "role": role, "district": district, "block": block})
            yield one, two, ReportScheduleRepository(engine)
            await engine.dispose()


def _tomorrow_at_noon() -> dt.datetime:
    """Tomorrow at noon, India time: hours from every due time the tests' schedules have (06:00, 07:30
    and 18:00), so that the minutes a test steps on never open a new period, whenever the test runs."""
    tomorrow = dt.datetime.now(INDIA).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(12, 0), INDIA).astimezone(dt.UTC)


def _sender(app, repo, port: int, name: str, **options) -> ScheduledDelivery:  # noqa: ANN003
    mailer = SmtpReportMailer(host="127.0.0.1", port=port, sender="reports@twin.example.org", starttls=False)
    return ScheduledDelivery(repo, app.state.services.reports, mailer, app.state.services.accounts.why_not_reading,
                             claimer=name, **options)


async def test_the_schedule_api_for_its_owner_and_area(replicas):
    one, two, _ = replicas
    async with _as(one, "district_officer", OFFICER, "user:7") as owner, \
            _as(two, "district_officer", OFFICER, "user:8") as other:
        r = await owner.post(API, json=WEEKLY_PDF)
        assert r.status_code == 201, r.text[:300]
        made = r.json()["data"]
        assert made["recipients"] == ["cao@example.org", "deo@example.org"] and made["paused"] is False
        assert made["area"] == {"district": "Ariyalur", "block": None, "school_id": None}
        assert made["report"] == {"format": "pdf", "what": "district"} and made["weekday"] == 0
        sid = made["id"]
        assert (await owner.get(f"{API}/{sid}")).json()["data"] == made
        assert [s["id"] for s in (await owner.get(API)).json()["data"]["schedules"]] == [sid]
        paused = await owner.post(f"{API}/{sid}/pause")
        assert paused.json()["data"]["paused"] is True
        assert (await owner.post(f"{API}/{sid}/resume")).json()["data"]["paused"] is False
        # another user, even of the same district, sees no such schedule
        for method, path in (("GET", f"{API}/{sid}"), ("POST", f"{API}/{sid}/pause"), ("DELETE", f"{API}/{sid}"),
                             ("GET", f"{API}/{sid}/deliveries")):
            assert (await other.request(method, path)).status_code == 404, path
        assert (await other.get(API)).json()["data"]["schedules"] == []
        deliveries = (await owner.get(f"{API}/{sid}/deliveries")).json()["data"]
        assert deliveries["deliveries"] == [] and deliveries["pagination"]["total"] == 0
        assert (await owner.delete(f"{API}/{sid}")).status_code == 200
        assert (await owner.get(f"{API}/{sid}")).status_code == 404
    async with _as(one, "block_officer", Area("Ariyalur", "Sendurai"), "user:9") as officer:
        assert (await officer.post(API, json=DAILY_CSV)).status_code == 201
        outside = DAILY_CSV | {"block": "Thirumanur"}
        r = await officer.post(API, json=outside)
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
        r = await officer.post(API, json=WEEKLY_PDF | {"place": "Ariyalur"})  # a district is outside a block's area
        assert r.status_code == 404


async def test_bad_schedules_name_the_field(replicas):
    one, _, _ = replicas
    async with _as(one) as admin:
        r = await admin.post(API, json=WEEKLY_PDF)  # a state admin names the district
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "place"
        weekly = WEEKLY_PDF | {"place": "Ariyalur"}
        for body, field in (({**weekly, "weekday": None}, "weekday"),
                            ({**weekly, "frequency": "monthly"}, "day_of_month"),
                            ({**weekly, "at_time": "25:00"}, "at_time"),
                            ({**weekly, "frequency": "hourly"}, "frequency"),
                            ({**weekly, "recipients": []}, "recipients"),
                            ({**weekly, "recipients": ["not an address"]}, "recipients.0"),
                            ({**DAILY_CSV, "kind": None}, "kind"),
                            ({**DAILY_CSV, "kind": "everything"}, "kind")):
            r = await admin.post(API, json=body)
            assert r.status_code == 422, body
            error = r.json()["error"]
            assert error["code"] == "VALIDATION_ERROR" and error["details"]["fields"][0]["field"] == field, (body, error)
        assert (await admin.get(f"{API}/0")).status_code == 422
        assert (await admin.get(f"{API}/12345")).status_code == 404


async def test_a_schedule_is_sent_once_per_period_by_two_replicas_and_after_a_restart(replicas, smtp):
    one, two, repo = replicas
    async with _as(one, "district_officer", OFFICER, "user:7") as owner:
        sid = (await owner.post(API, json={**WEEKLY_PDF, "frequency": "daily"})).json()["data"]["id"]
        csv_sid = (await owner.post(API, json={**DAILY_CSV, "block": None, "at_time": "06:00"})).json()["data"]["id"]
    first = _tomorrow_at_noon()
    a, b = _sender(one, repo, smtp.port, "replica-a"), _sender(two, repo, smtp.port, "replica-b")
    outcomes = await asyncio.gather(a.tick(first), b.tick(first))
    sent = [o for o in outcomes[0] + outcomes[1] if o["status"] == "sent"]
    assert sorted(o["schedule_id"] for o in sent) == sorted([sid, csv_sid])  # each once, by one replica or other
    assert len(smtp.mails) == 2
    # both replicas restarted: new senders, nothing of the old in memory; the same period is not sent again
    a2, b2 = _sender(one, repo, smtp.port, "replica-a2"), _sender(two, repo, smtp.port, "replica-b2")
    later = first + dt.timedelta(minutes=30)
    assert await a2.tick(later) == [] and await b2.tick(later) == [] and len(smtp.mails) == 2
    # the next day is a new period: sent once more
    await asyncio.gather(a2.tick(first + dt.timedelta(days=1)), b2.tick(first + dt.timedelta(days=1)))
    assert len(smtp.mails) == 4

    pdf_mail = next(m for m in smtp.mails if "Ariyalur weekly" in m.message["Subject"])
    assert sorted(pdf_mail.rcpt_tos) == ["cao@example.org", "deo@example.org"]
    (attachment,) = list(pdf_mail.message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert "Ariyalur district" in text
    csv_mail = next(m for m in smtp.mails if "Sendurai daily" in m.message["Subject"])
    (sheet,) = list(csv_mail.message.iter_attachments())
    content = sheet.get_content()
    rows = (content.decode() if isinstance(content, bytes) else content).splitlines()
    assert len(rows) == 1 + len(ARIYALUR_IDS)  # the district's schools: the schedule's area, not the block
    # one Message-ID per schedule and period, the same whichever replica sent it
    keys = {s: [period_key(latest_due(c, first + dt.timedelta(days=d))) for d in (0, 1)]
            for s, c in ((sid, Cadence("daily", dt.time(7, 30))), (csv_sid, Cadence("daily", dt.time(6, 0))))}
    assert sorted(m.message["Message-ID"] for m in smtp.mails) == sorted(
        f"<report-{s}-{k}@mealtwin>" for s, ks in keys.items() for k in ks)
    async with _as(two, "district_officer", OFFICER, "user:7") as owner:
        log = (await owner.get(f"{API}/{sid}/deliveries")).json()["data"]
    assert [d["status"] for d in log["deliveries"]] == ["sent", "sent"]
    assert all(d["attempts"] == 1 and d["size_bytes"] > 1000 for d in log["deliveries"])


async def test_a_lapsed_claim_is_taken_over_and_failures_are_retried_with_backoff(replicas, smtp):
    one, two, repo = replicas
    async with _as(one, "district_officer", OFFICER, "user:7") as owner:
        sid = (await owner.post(API, json={**DAILY_CSV, "block": None})).json()["data"]["id"]
    now = _tomorrow_at_noon()
    lease = dt.timedelta(minutes=15)
    # a replica claimed the period and died before sending
    key = period_key(latest_due(Cadence("daily", dt.time(18, 0)), now))
    assert await repo.claim(sid, key, "dead-replica", lease, now) is not None
    backoff = Backoff(attempts=3, first_wait=dt.timedelta(minutes=1), longest_wait=dt.timedelta(minutes=5))
    dead_port = free_port()  # nothing listens there: a connection refused, tried again later
    sender = _sender(two, repo, dead_port, "replica-b", backoff=backoff)
    assert await sender.tick(now + dt.timedelta(minutes=5)) == []  # the claim still holds
    tried = await sender.tick(now + lease + dt.timedelta(seconds=1))
    assert [o["status"] for o in tried] == ["retrying"]
    retry_wait = now + lease + dt.timedelta(seconds=1)
    assert await sender.tick(retry_wait + dt.timedelta(seconds=30)) == []  # before the backoff's wait is over
    sender.mailer.port = smtp.port  # the server is back
    tried = await sender.tick(retry_wait + dt.timedelta(minutes=1, seconds=1))
    assert [o["status"] for o in tried] == ["sent"] and len(smtp.mails) == 1
    async with _as(one, "district_officer", OFFICER, "user:7") as owner:
        (delivery,) = (await owner.get(f"{API}/{sid}/deliveries")).json()["data"]["deliveries"]
    assert delivery["status"] == "sent" and delivery["attempts"] == 2 and delivery["last_error"] is None


async def test_a_refused_recipient_fails_the_delivery_for_good(replicas):
    one, _, repo = replicas
    receiver = SmtpReceiver()
    receiver.start()
    try:
        async with _as(one, "district_officer", OFFICER, "user:7") as owner:
            body = {**DAILY_CSV, "block": None, "recipients": [f"ghost@{SmtpReceiver.refused_domain}"]}
            sid = (await owner.post(API, json=body)).json()["data"]["id"]
        sender = _sender(one, repo, receiver.port, "replica-a")
        now = _tomorrow_at_noon()
        assert [o["status"] for o in await sender.tick(now)] == ["failed"]
        assert await sender.tick(now + dt.timedelta(hours=2)) == [] and receiver.mails == []
        async with _as(one, "district_officer", OFFICER, "user:7") as owner:
            (delivery,) = (await owner.get(f"{API}/{sid}/deliveries")).json()["data"]["deliveries"]
        assert delivery["status"] == "failed" and "refused" in delivery["last_error"]
    finally:
        receiver.stop()


async def test_an_owner_deactivated_or_moved_out_of_the_area_gets_no_mail_and_the_schedule_pauses(replicas, smtp):
    one, _, repo = replicas
    async with _as(one, "district_officer", OFFICER, "user:7") as district_owner, \
            _as(one, "block_officer", Area("Ariyalur", "Sendurai"), "user:9") as block_owner:
        district_sid = (await district_owner.post(API, json={**DAILY_CSV, "block": None})).json()["data"]["id"]
        block_sid = (await block_owner.post(API, json=DAILY_CSV)).json()["data"]["id"]
    sender = _sender(one, repo, smtp.port, "replica-a")
    first = _tomorrow_at_noon()
    assert sorted(o["status"] for o in await sender.tick(first)) == ["sent", "sent"]  # both owners may read

    users = one.state.services.accounts.users
    await users.update(7, {"is_active": False})  # the district officer left
    await users.update(9, {"block": "Thirumanur"})  # the block officer moved to another block
    day_two = first + dt.timedelta(days=1)
    outcomes = {o["schedule_id"]: o for o in await sender.tick(day_two)}
    assert {s: o["status"] for s, o in outcomes.items()} == {district_sid: "paused", block_sid: "paused"}
    assert len(smtp.mails) == 2  # nothing more went out
    async with _as(one, "district_officer", OFFICER, "user:7") as district_owner, \
            _as(one, "block_officer", Area("Ariyalur", "Thirumanur"), "user:9") as block_owner:
        (listed,) = (await district_owner.get(API)).json()["data"]["schedules"]
        assert listed["paused"] is True and "deactivated" in listed["paused_reason"]
        (moved,) = (await block_owner.get(API)).json()["data"]["schedules"]
        assert moved["paused"] is True and "Thirumanur" in moved["paused_reason"] and "Sendurai" in moved["paused_reason"]
        log = (await district_owner.get(f"{API}/{district_sid}/deliveries")).json()["data"]["deliveries"]
        assert [(d["status"], d["last_error"].startswith("not sent: ")) for d in log[:1]] == [("failed", True)]
        assert log[1]["status"] == "sent"
        # paused, it is not even looked at on the next day
        assert await sender.tick(day_two + dt.timedelta(days=1)) == []
        # the officer is back: resumed by its owner, the reason goes, and the next period is sent
        await users.update(7, {"is_active": True})
        resumed = (await district_owner.post(f"{API}/{district_sid}/resume")).json()["data"]
        assert resumed["paused"] is False and resumed["paused_reason"] is None
        # the moved officer resumes too, but still cannot read Sendurai: paused again at the next send
        await block_owner.post(f"{API}/{block_sid}/resume")
    day_four = first + dt.timedelta(days=3)
    outcomes = {o["schedule_id"]: o["status"] for o in await sender.tick(day_four)}
    assert outcomes == {district_sid: "sent", block_sid: "paused"} and len(smtp.mails) == 3


async def test_who_may_still_read_an_area(replicas):
    one, _, _ = replicas
    accounts = one.state.services.accounts
    sendurai = Area("Ariyalur", "Sendurai")
    assert await accounts.why_not_reading("user:7", sendurai) is None  # a district officer reads its blocks
    assert await accounts.why_not_reading("user:9", sendurai) is None
    assert "does not include" in await accounts.why_not_reading("user:9", OFFICER)  # a block officer, not the district
    assert "no longer exists" in await accounts.why_not_reading("user:4040", sendurai)
    assert "revoked" in await accounts.why_not_reading("key:nokey", sendurai)
    assert "no account" in await accounts.why_not_reading("system:benchmark", sendurai)
    await accounts.users.update(8, {"approval": "pending"})
    assert "pending" in await accounts.why_not_reading("user:8", OFFICER)

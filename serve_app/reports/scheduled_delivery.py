"""Scheduled reports sent by email, once per schedule and period, whichever replica gets there first
and however often replicas restart: every replica ticks over the active schedules, and for each
that is due it claims the period in the database (`ReportScheduleRepository.claim`); only the
claimer builds and sends. A failed send is retried with backoff by whichever replica is ticking
when its wait is over; after `attempts` tries, or a permanent refusal, the delivery is failed.
Every try is recorded with the delivery.

At least once, with an idempotent Message-ID; not exactly once. A replica that dies after the SMTP
server accepted the message but before it recorded the delivery leaves its claim to lapse, and
another replica sends the mail again. That window is left open on purpose: no SMTP exchange makes
a send and a database write one atomic step (recording first instead would lose a mail whose send
then failed, which is worse than a repeat). The message's Message-ID is the same on every try
(schedule and period), so a mail system that drops repeats by Message-ID drops the second copy,
and a reader's client shows one message.

At each send the owner's account is checked as it is then (`owner_check`): a schedule outlives
its owner's right to the area only until its next period, when it is paused with the reason."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from serve_app.reports.cadence import REPORT_DAYS, Cadence, latest_due, period_key
from serve_app.reports.schemas import CsvKind
from twin.area import Area

if TYPE_CHECKING:
    from db.report_schedule_repository import ReportScheduleRepository
    from serve_app.reports.service import ReportService

log = logging.getLogger(__name__)

TICK_S = 30.0  # how often a replica looks for due schedules


class MailError(Exception):
    """A send failed; `permanent`: trying again cannot help (a refused recipient, a bad login)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str
    content: bytes


# why a schedule's owner may no longer read its area, judged on the owner's account now (None: it may)
OwnerCheck = Callable[[str, Area], Awaitable[str | None]]


class Mailer(Protocol):
    async def send(self, recipients: list[str], subject: str, body: str, attachment: Attachment,
                   message_id: str) -> None: ...


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5  # tries per delivery, the first included
    first_wait: dt.timedelta = dt.timedelta(minutes=1)  # doubled after each further failure
    longest_wait: dt.timedelta = dt.timedelta(minutes=30)

    def wait(self, failures: int) -> dt.timedelta:
        return min(self.longest_wait, self.first_wait * 2 ** min(failures - 1, 30))


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ScheduledDelivery:
    def __init__(self, schedules: ReportScheduleRepository, reports: ReportService, mailer: Mailer,
                 owner_check: OwnerCheck, claimer: str | None = None, lease: dt.timedelta = dt.timedelta(minutes=15),
                 backoff: Backoff = Backoff(), clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self._schedules = schedules
        self._reports = reports
        self.mailer = mailer
        self._owner_check = owner_check
        self.claimer = claimer or f"{socket.gethostname()}:{id(self):x}"  # this replica, in the claims
        self._lease = lease  # longer than building and sending the largest report takes
        self._backoff = backoff
        self._clock = clock
        self._loop: asyncio.Task | None = None

    def start(self, tick_s: float = TICK_S) -> None:
        self._loop = asyncio.get_running_loop().create_task(self._run(tick_s))

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)

    async def _run(self, tick_s: float) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the loop outlives a bad tick (the database away a while)
                log.exception("scheduled reports: a tick failed")
            await asyncio.sleep(tick_s)

    async def tick(self, now: dt.datetime | None = None) -> list[dict]:
        """Send what is due and this replica could claim; returns those deliveries' outcomes."""
        now = now or self._clock()
        out = []
        for schedule in await self._schedules.active():
            try:
                due = latest_due(_cadence(schedule), now)
            except ValueError:  # a row no API request could have made: skipped, the others go on
                log.error("scheduled report %s has no due time: %s", schedule["id"], schedule)
                continue
            if due < dt.datetime.fromisoformat(schedule["created_at"]):
                continue  # its first due time is still ahead
            delivery = await self._schedules.claim(schedule["id"], period_key(due), self.claimer, self._lease, now)
            if delivery is None:
                continue
            # the owner as they are now, not as they were when they made the schedule: a deactivated
            # owner, or one moved out of the area, gets no more of the area's mail
            refusal = await self._owner_check(schedule["owner"], Area(**schedule["area"]))
            if refusal is not None:
                out.append(await self._refuse(schedule, delivery, refusal))
            else:
                out.append(await self._deliver(schedule, delivery, due, now))
        return out

    async def _refuse(self, schedule: dict, delivery: dict, refusal: str) -> dict:
        """Nothing is sent: the delivery fails for good with the reason, and the schedule is paused
        with it (its listing says why) until its owner, able to read the area again, resumes it."""
        reason = f"not sent: {refusal}"
        await self._schedules.attempt_failed(delivery["id"], self.claimer, reason, None)
        await self._schedules.pause_for(schedule["id"], refusal)
        log.warning("scheduled report %s paused: %s", schedule["id"], refusal)
        return {"schedule_id": schedule["id"], "period": delivery["period"], "status": "paused", "error": reason}

    async def _deliver(self, schedule: dict, delivery: dict, due: dt.datetime, now: dt.datetime) -> dict:
        try:
            attachment = await self._report(schedule, due)
            # the same Message-ID on every try of the period: a repeat after a crash between the
            # server's acceptance and `sent` below is at least once, dropped by Message-ID
            await self.mailer.send(schedule["recipients"], _subject(schedule, delivery), _body(schedule, delivery),
                                   attachment, f"<report-{schedule['id']}-{delivery['period']}@mealtwin>")
        except Exception as exc:  # noqa: BLE001 - recorded with the delivery, tried again later
            failures = delivery["attempts"] + 1
            permanent = isinstance(exc, MailError) and exc.permanent
            retry_at = None if permanent or failures >= self._backoff.attempts else now + self._backoff.wait(failures)
            reason = f"{type(exc).__name__}: {exc}"
            await self._schedules.attempt_failed(delivery["id"], self.claimer, reason, retry_at)
            log.warning("scheduled report %s for %s: try %d failed: %s", schedule["id"], delivery["period"],
                        failures, reason)
            return {"schedule_id": schedule["id"], "period": delivery["period"],
                    "status": "retrying" if retry_at else "failed", "error": reason}
        await self._schedules.sent(delivery["id"], self.claimer, schedule["recipients"], len(attachment.content), now)
        return {"schedule_id": schedule["id"], "period": delivery["period"], "status": "sent"}

    async def _report(self, schedule: dict, due: dt.datetime) -> Attachment:
        """The schedule's report over its frequency's days ending on the twin's day."""
        from serve_app.reports.service import Period

        area = Area(**schedule["area"])
        last = await self._reports.twin_day() or due.date()
        period = Period(last - dt.timedelta(days=REPORT_DAYS[schedule["frequency"]] - 1), last)
        report = schedule["report"]
        place = "-".join(p.replace(" ", "_") for p in (area.district, area.block, area.school_id) if p) or "state"
        if report["format"] == "pdf":
            content = await self._reports.pdf(area, period, due)
            return Attachment(f"report-{place}-{period.last.isoformat()}.pdf", "application/pdf", content)
        parts = [part async for part in self._reports.csv(CsvKind(report["what"]), area, period)]
        return Attachment(f"{report['what']}-{place}-{period.last.isoformat()}.csv", "text/csv",
                          "".join(parts).encode())


def _cadence(schedule: dict) -> Cadence:
    return Cadence(schedule["frequency"], dt.time.fromisoformat(schedule["at_time"]), schedule["weekday"],
                   schedule["day_of_month"])


def _subject(schedule: dict, delivery: dict) -> str:
    return f"Noon-meal report: {schedule['name']} ({delivery['period']})"


def _body(schedule: dict, delivery: dict) -> str:
    a = schedule["area"]
    where = a["school_id"] or (f"{a['block']} block, {a['district']}" if a["block"] else a["district"]) or "Tamil Nadu"
    what = schedule["report"]
    return (f"The {schedule['frequency']} report '{schedule['name']}' for {where}, due {delivery['period']} "
            f"(India time), is attached: {what['format'].upper()} of {what['what']}.\n\n"
            "Sent by the noon-meal twin's scheduled reports. Ask the schedule's owner to change or pause it.\n")

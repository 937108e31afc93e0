"""Alerts in SQLite and PostgreSQL: one open alert per subject and cause, escalation in place,
resolution, scoped reads, unread counts, subscriptions without their secrets, delivery records."""

import pytest
import sqlalchemy.exc

from db.alert_repository import AlertRepository, AlertScope
from db.engine import create_engine


@pytest.fixture
async def repo(database_url):
    engine = create_engine(database_url)
    yield AlertRepository(engine)
    await engine.dispose()


def alert(subject="school:33010100101", cause="stock_low", severity="high", district="Ariyalur", **extra) -> dict:
    return {"subject": subject, "school_id": subject.split(":")[1] if subject.startswith("school") else None,
            "district": district, "block": "Sendurai", "alert_type": cause, "category": "stock",
            "severity": severity, "title": f"{cause} at {subject}", "message": "rice for 2.5 days",
            "details": {"stock_days": 2.5}, **extra}


async def test_open_escalate_resolve(repo):
    opened = await repo.apply([alert()], [], [])
    assert len(opened) == 1 and opened[0]["id"] > 0 and opened[0]["details"] == {"stock_days": 2.5}
    assert await repo.open_alerts() == [("school:33010100101", "stock_low", "high")]
    escalated = await repo.apply([], [alert(severity="critical")], [])
    assert escalated[0]["id"] == opened[0]["id"] and escalated[0]["severity"] == "critical"
    await repo.apply([], [], [("school:33010100101", "stock_low")])
    assert await repo.open_alerts() == []
    stored = await repo.get(opened[0]["id"])
    assert stored["is_resolved"] and stored["resolved_at"] is not None
    again = await repo.apply([alert()], [], [])  # the cause returns: a new alert
    assert again[0]["id"] != opened[0]["id"]


async def test_the_database_refuses_a_second_open_alert_for_the_same_cause(repo):
    await repo.apply([alert()], [], [])
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        await repo.apply([alert()], [], [])


async def test_reads_are_scoped_and_count_unread(repo):
    await repo.apply([alert(), alert(subject="school:33020100101", district="Chennai", severity="medium"),
                      alert(cause="stale_report", severity="medium")], [], [])
    rows, total = await repo.page(AlertScope(district="Ariyalur"), 0, 10)
    assert total == 2 and {r["district"] for r in rows} == {"Ariyalur"}
    _, high = await repo.page(AlertScope(severity="high"), 0, 10)
    assert high == 1
    assert await repo.unread_count(AlertScope()) == {"total": 3, "by_severity": {"high": 1, "medium": 2}}
    read = await repo.mark_read(rows[0]["id"])
    assert read["is_read"]
    assert (await repo.unread_count(AlertScope(district="Ariyalur")))["total"] == 1
    assert await repo.get(10_000) is None


async def test_subscriptions_keep_their_secret_from_readers(repo):
    sub = await repo.subscribe("officer@example.org", "webhook", "https://example.org/hook", "s3cret",
                               {"severity_at_least": "high"})
    assert "secret" not in sub and sub["filters"] == {"severity_at_least": "high"}
    (stored,) = await repo.subscriptions()
    assert stored["secret"] == "s3cret" and stored["id"] == sub["id"]
    await repo.record_delivery(1, sub["id"], "webhook", 1, "failed", "HTTP 500")
    await repo.record_delivery(1, sub["id"], "webhook", 2, "dead", "HTTP 500")
    assert [d["status"] for d in await repo.deliveries(1)] == ["failed", "dead"]

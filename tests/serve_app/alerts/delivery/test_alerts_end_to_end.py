"""Alert delivery end to end, through the API: a subscription, a failing school, and its alert
reaching real local receivers."""

import asyncio

from configs import Settings
from configs.settings import AlertDelivery
from serve_app.alerts.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.fixtures.app import client_of, running_app
from tests.fixtures.delivery_receivers import answer
from tests.serve_app.alerts.test_endpoints import SICK, post, report


async def test_subscribers_are_told_of_new_alerts_by_signed_webhook_and_email(seeded_url, smtp, http):
    """End to end: a subscription through the API, a failing school, and the alert reaching a real
    local webhook receiver (signed, after one failed attempt) and a real local SMTP server."""
    http.routes["/hook"] = answer(500, 200)
    delivery = AlertDelivery(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
                             retry_base_delay_s=0.01, retry_max_delay_s=0.05,
                             webhook_private_targets=True)  # the receiver runs on this machine
    async with running_app(Settings(database_url=seeded_url, alert_delivery=delivery)) as app, client_of(app) as client:
        secret = "a-long-shared-secret-0001"
        for sub in ({"channel": "webhook", "target": http.url("/hook"), "secret": secret},
                    {"channel": "email", "target": "beo@example.org"}):
            # the test schools hold no stock or funds, so most raise alerts: follow just the meal exceptions
            sub |= {"owner": "beo@example.org",
                    "filters": {"severity_at_least": "high", "categories": ["meals"], "districts": ["Ariyalur"]}}
            assert (await client.post("/api/v1/alerts/subscribe", json=sub)).status_code == 201
        await post(client, [report(SICK, d, None) for d in range(3)])
        await client.get(f"/api/v1/predictions/risk/{SICK}")
        failed, delivered = await http.wait_for("/hook", 2)
        assert failed.headers and delivered.json()["alert"]["school_id"] == SICK
        assert verify_signature(secret, delivered.body, delivered.headers[TIMESTAMP_HEADER.lower()],
                                delivered.headers[SIGNATURE_HEADER.lower()])
        assert delivered.json()["alert"]["severity"] in ("high", "critical")
        async with asyncio.timeout(5):
            while not smtp.mails:
                await asyncio.sleep(0.02)
        assert smtp.mails[0].rcpt_tos == ["beo@example.org"] and SICK in smtp.mails[0].message["Subject"]
        await app.state.services.notifier.close()  # drains: every attempt is recorded
        deliveries = await app.state.services.alerts._repo.deliveries(delivered.json()["alert"]["id"])
        assert {d["status"] for d in deliveries if d["channel"] == "webhook"} == {"failed", "delivered"}

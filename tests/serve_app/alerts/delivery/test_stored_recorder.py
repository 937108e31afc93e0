"""Delivery attempts and dead letters written to the database's delivery log (SQLite and PostgreSQL)."""

from db.alert_repository import AlertRepository
from db.engine import create_engine
from serve_app.alerts.delivery.dispatcher import AlertDispatcher
from serve_app.alerts.delivery.retry import RetryPolicy
from serve_app.alerts.delivery.stored_recorder import StoredDeliveryRecorder
from adapters.webhook_channel import WebhookChannel
from tests.fixtures.delivery_builders import alert, webhook_subscription
from tests.fixtures.delivery_receivers import answer


async def test_every_attempt_and_the_dead_letter_become_rows(database_url, http):
    http.routes["/hooks/flaky"] = answer(500, 204)
    http.routes["/hooks/down"] = answer(503)
    engine = create_engine(database_url)
    repo = AlertRepository(engine)
    retry = RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.01)
    try:
        async with AlertDispatcher({"webhook": WebhookChannel(timeout_s=5, private_targets=True)}, StoredDeliveryRecorder(repo),
                                   retry=retry) as dispatcher:
            dispatcher.submit(alert(1), [webhook_subscription(7, http.url("/hooks/flaky"))])
            dispatcher.submit(alert(2), [webhook_subscription(8, http.url("/hooks/down"))])
        rows = {alert_id: [(d["subscription_id"], d["attempt"], d["status"], d["error"])
                           for d in await repo.deliveries(alert_id)] for alert_id in (1, 2)}
    finally:
        await engine.dispose()
    assert rows[1] == [(7, 1, "failed", "webhook answered HTTP 500"), (7, 2, "delivered", None)]
    assert rows[2] == [(8, 1, "failed", "webhook answered HTTP 503"), (8, 2, "failed", "webhook answered HTTP 503"),
                       (8, 2, "dead", "webhook answered HTTP 503")]

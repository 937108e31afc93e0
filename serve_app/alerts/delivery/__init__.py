"""Alert delivery: alerts to their subscribers by email, webhook and SMS, retried with backoff,
recorded attempt by attempt, dead-lettered when they fail for good. The channels themselves
(SMTP, the SMS gateway, webhooks) are adapters (`adapters/`); `startup.delivery` builds them."""

from serve_app.alerts.delivery.channel import Channel, DeliveryError
from serve_app.alerts.delivery.dispatcher import AlertDispatcher, DispatchCounts
from serve_app.alerts.delivery.recorder import DeadLetter, DeliveryAttempt, DeliveryRecorder, MemoryDeliveryRecorder
from serve_app.alerts.delivery.retry import RetryPolicy
from serve_app.alerts.delivery.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from serve_app.alerts.delivery.stored_recorder import DeliveryLog, StoredDeliveryRecorder
from serve_app.alerts.delivery.subscription import Alert, Subscription, SubscriptionFilters

__all__ = [
    "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Alert", "AlertDispatcher", "Channel", "DeadLetter", "DeliveryAttempt",
    "DeliveryError", "DeliveryLog", "DeliveryRecorder", "DispatchCounts", "MemoryDeliveryRecorder", "RetryPolicy",
    "StoredDeliveryRecorder", "Subscription", "SubscriptionFilters", "sign", "verify_signature",
]

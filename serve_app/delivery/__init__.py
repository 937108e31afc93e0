"""Alert delivery: alerts to their subscribers by email, webhook and SMS, retried with backoff,
recorded attempt by attempt, dead-lettered when they fail for good."""

from serve_app.delivery.build import build_channels, open_dispatcher, retry_policy
from serve_app.delivery.channel import Channel, DeliveryError
from serve_app.delivery.dispatcher import AlertDispatcher, DispatchCounts
from serve_app.delivery.email_channel import EmailChannel
from serve_app.delivery.recorder import DeadLetter, DeliveryAttempt, DeliveryRecorder, MemoryDeliveryRecorder
from serve_app.delivery.retry import RetryPolicy
from serve_app.delivery.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from serve_app.delivery.sms_channel import HttpSmsGateway, SmsChannel, SmsProvider
from serve_app.delivery.stored_recorder import DeliveryLog, StoredDeliveryRecorder
from serve_app.delivery.subscription import Alert, Subscription, SubscriptionFilters
from serve_app.delivery.webhook_channel import DELIVERY_HEADER, WebhookChannel

__all__ = [
    "DELIVERY_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Alert", "AlertDispatcher", "Channel",
    "DeadLetter", "DeliveryAttempt", "DeliveryError", "DeliveryLog", "DeliveryRecorder", "DispatchCounts",
    "EmailChannel", "HttpSmsGateway", "MemoryDeliveryRecorder", "RetryPolicy", "SmsChannel", "SmsProvider",
    "StoredDeliveryRecorder", "Subscription", "SubscriptionFilters", "WebhookChannel", "build_channels",
    "open_dispatcher", "retry_policy", "sign", "verify_signature",
]

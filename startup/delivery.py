"""The channels and the dispatcher as the settings describe them. Email and SMS exist only when
their server is configured; webhooks always do."""

from __future__ import annotations

import asyncio
import random

from configs.settings import AlertDelivery
from serve_app.alerts.delivery.channel import Channel
from serve_app.alerts.delivery.dispatcher import AlertDispatcher
from adapters.email_channel import EmailChannel
from serve_app.alerts.delivery.recorder import DeliveryRecorder
from serve_app.alerts.delivery.retry import RetryPolicy
from adapters.sms_channel import HttpSmsGateway, SmsChannel
from serve_app.alerts.delivery.subscription import ChannelName
from adapters.webhook_channel import WebhookChannel


def build_channels(settings: AlertDelivery) -> dict[ChannelName, Channel]:
    """Blocking (TLS contexts load CA files): call it from a thread, as `open_dispatcher` does."""
    channels: dict[ChannelName, Channel] = {"webhook": WebhookChannel(timeout_s=settings.webhook_timeout_s,
                                                                         private_targets=settings.webhook_private_targets)}
    if settings.smtp_host:
        channels["email"] = EmailChannel(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                                         starttls=settings.smtp_starttls, username=settings.smtp_username,
                                         password=settings.smtp_password, timeout_s=settings.smtp_timeout_s)
    if settings.sms_gateway_url:
        gateway = HttpSmsGateway(url=settings.sms_gateway_url, api_key=settings.sms_api_key,
                                 sender=settings.sms_sender, api_key_header=settings.sms_api_key_header,
                                 body_format=settings.sms_body_format, timeout_s=settings.sms_timeout_s)
        channels["sms"] = SmsChannel(gateway, timeout_s=settings.sms_timeout_s)
    return channels


def retry_policy(settings: AlertDelivery) -> RetryPolicy:
    return RetryPolicy(attempts=settings.retry_attempts, base_delay_s=settings.retry_base_delay_s,
                       max_delay_s=settings.retry_max_delay_s)


async def open_dispatcher(settings: AlertDelivery, recorder: DeliveryRecorder,
                          rng: random.Random | None = None) -> AlertDispatcher:
    """A started dispatcher over the configured channels; `close()` it on shutdown."""
    channels = await asyncio.to_thread(build_channels, settings)
    dispatcher = AlertDispatcher(channels, recorder, retry=retry_policy(settings), queue_size=settings.queue_size,
                                 workers_per_channel=settings.workers_per_channel, rng=rng)
    await dispatcher.start()
    return dispatcher

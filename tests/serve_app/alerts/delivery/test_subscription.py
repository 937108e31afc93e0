"""Subscriptions: which alerts their filters admit, which targets they accept, and that a
webhook's secret never shows."""

from typing import get_args

import pytest
from pydantic import ValidationError

from serve_app.alerts.delivery.subscription import Severity, Subscription, SubscriptionFilters
from twin.alert_rules import SEVERITIES
from tests.fixtures.delivery_builders import alert, email_subscription, webhook_subscription


@pytest.mark.parametrize(("filters", "admitted"), [
    ({}, True),
    ({"severity_at_least": "high"}, True),
    ({"severity_at_least": "medium"}, True),
    ({"severity_at_least": "critical"}, False),
    ({"categories": ["stock", "funds"]}, True),
    ({"categories": ["attendance"]}, False),
    ({"districts": ["ariyalur"]}, True),  # district names compare without case
    ({"districts": ["Chennai"]}, False),
    ({"categories": None, "districts": None}, True),  # as the subscriptions table stores "every"
    ({"categories": []}, False),  # an empty list admits nothing
    ({"severity_at_least": "high", "categories": ["stock"], "districts": ["Chennai"]}, False),
])
def test_filters_admit_an_alert_only_when_every_condition_holds(filters, admitted):
    assert SubscriptionFilters(**filters).admit(alert(severity="high")) is admitted


def test_the_severities_are_the_alert_rules_own_in_the_same_order():
    assert get_args(Severity) == SEVERITIES


def test_a_stored_subscription_with_an_owner_and_extra_columns_is_accepted():
    stored = {"id": 5, "owner": "beo@example.org", "channel": "sms", "target": "+919876543210",
              "filters": {"severity_at_least": "high", "categories": None, "districts": ["Ariyalur"]},
              "active": True, "created_at": "2026-11-29T03:00:00Z"}
    subscription = Subscription.model_validate(stored)
    assert (subscription.user, subscription.filters.districts) == ("beo@example.org", ("Ariyalur",))


def test_an_unknown_severity_is_never_filtered_out():
    assert SubscriptionFilters(severity_at_least="critical").admit(alert(severity="catastrophic"))


def test_a_misspelt_filter_is_refused_rather_than_ignored():
    with pytest.raises(ValidationError):
        SubscriptionFilters.model_validate({"severity_atleast": "high"})


@pytest.mark.parametrize("raw", [
    email_subscription(target="not-an-address"),
    {"id": 3, "user": "u", "channel": "sms", "target": "9876543210"},  # no country code
    {"id": 4, "user": "u", "channel": "webhook", "target": "ftp://example.org/hook", "secret": "s"},
    {"id": 5, "user": "u", "channel": "webhook", "target": "https://example.org/hook"},  # no secret
    {"id": 6, "user": "u", "channel": "pigeon", "target": "loft 3"},
])
def test_a_target_that_does_not_fit_its_channel_is_refused(raw):
    with pytest.raises(ValidationError):
        Subscription.model_validate(raw)


def test_a_webhook_secret_never_shows_in_repr_or_dump():
    subscription = Subscription.model_validate(webhook_subscription(7, "https://example.org/hook", secret="hush-123"))
    assert "hush-123" not in repr(subscription)
    assert "hush-123" not in subscription.model_dump_json()
    assert subscription.secret.get_secret_value() == "hush-123"

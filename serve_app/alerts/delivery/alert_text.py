"""The words of an alert as a person reads them: an email's subject and body, an SMS."""

from __future__ import annotations

from serve_app.alerts.delivery.subscription import Alert

SMS_MAX_CHARS = 306  # two concatenated GSM-7 segments: long enough for the title, short enough to stay cheap


def _one_line(text: object) -> str:
    return " ".join(str(text or "").split())  # a header or an SMS must not carry line breaks


def subject(alert: Alert) -> str:
    return f"[mealtwin {_one_line(alert.get('severity')).upper()}] {_one_line(alert.get('title'))}"


def email_body(alert: Alert) -> str:
    details = [("School", alert.get("school_id")), ("Block", alert.get("block")),
               ("District", alert.get("district")), ("Category", alert.get("category")),
               ("Cause", alert.get("cause") or alert.get("alert_type")), ("Severity", alert.get("severity")),
               ("Raised at", alert.get("created_at")), ("Alert id", alert.get("id"))]
    lines = [str(alert.get("message") or alert.get("title") or ""), ""]
    lines += [f"{label}: {value}" for label, value in details if value not in (None, "")]
    return "\n".join(lines) + "\n"


def sms_text(alert: Alert) -> str:
    school, block, district = (_one_line(alert.get(k)) for k in ("school_id", "block", "district"))
    place = f"school {school}" if school else f"block {block}" if block else ""  # block alerts have no school
    where = ", ".join(part for part in (place, district) if part)
    text = (f"mealtwin {_one_line(alert.get('severity')).upper()}: {_one_line(alert.get('title'))}"
            f" - {where} (alert {alert.get('id')})")
    return text if len(text) <= SMS_MAX_CHARS else text[: SMS_MAX_CHARS - 3] + "..."

"""When scheduled reports are due, in India time."""

import datetime as dt

from serve_app.reports.cadence import Cadence, latest_due, period_key

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def _at(y: int, m: int, d: int, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=IST)


def test_daily_weekly_and_monthly_due_times_in_india_time():
    daily = Cadence("daily", dt.time(7, 30))
    assert latest_due(daily, _at(2026, 12, 7, 7, 29)) == _at(2026, 12, 6, 7, 30)
    assert latest_due(daily, _at(2026, 12, 7, 7, 30)) == _at(2026, 12, 7, 7, 30)
    # 02:30 UTC is 08:00 in India: already past that day's 07:30
    assert period_key(latest_due(daily, dt.datetime(2026, 12, 7, 2, 30, tzinfo=dt.UTC))) == "2026-12-07"
    weekly = Cadence("weekly", dt.time(18, 0), weekday=0)  # Mondays; 2026-12-07 is a Monday
    assert latest_due(weekly, _at(2026, 12, 10, 9, 0)) == _at(2026, 12, 7, 18, 0)
    assert latest_due(weekly, _at(2026, 12, 7, 17, 59)) == _at(2026, 11, 30, 18, 0)
    monthly = Cadence("monthly", dt.time(6, 0), day_of_month=1)
    assert latest_due(monthly, _at(2027, 1, 1, 5, 0)) == _at(2026, 12, 1, 6, 0)
    assert period_key(latest_due(monthly, _at(2027, 1, 1, 6, 0))) == "2027-01-01"

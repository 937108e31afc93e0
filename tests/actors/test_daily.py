"""The daily timer's clock: the next time the local clock shows HH:MM, across midnight and zones."""

import datetime as dt

from actors.daily import next_run


def test_next_run_is_the_next_local_time_of_day():
    ist_2am_utc = dt.datetime(2026, 11, 29, 20, 30, tzinfo=dt.UTC)  # 02:00 on 30 November in India
    assert next_run(dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC), "02:00", "Asia/Kolkata") == ist_2am_utc
    assert next_run(dt.datetime(2026, 11, 29, 20, 0, tzinfo=dt.UTC), "02:00", "Asia/Kolkata") == ist_2am_utc
    # exactly at the time: the next day's, so a job never runs twice in one minute
    assert next_run(ist_2am_utc, "02:00", "Asia/Kolkata") == ist_2am_utc + dt.timedelta(days=1)
    assert next_run(dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC), "23:59", "UTC") == \
        dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC)

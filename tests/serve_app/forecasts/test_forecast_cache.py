"""A forecast's read-cache key names everything the forecast depends on: the served model, the
recent days it was computed from (each district's applied log seq), the schools and the rain.
So a new model, a new event folded into the recent days, or other schools or rain are each a new
key (never a stale answer), and the same inputs on another replica are the same key."""

import numpy as np

from serve_app.forecasts.service import days_version, forecast_key


class _State:
    def __init__(self, districts, seqs):
        self.district_global = np.array(districts, np.int16)
        self.district_applied_seq = np.array(seqs, np.int64)


def test_the_recent_days_version_moves_with_any_districts_applied_seq_and_not_with_shard_order():
    states = [_State([0, 1], [10, 12]), _State([2], [7])]
    assert days_version(states, 100) == days_version(list(reversed(states)), 100)  # another replica's copy
    assert days_version(states, 100) != days_version([_State([0, 1], [10, 13]), _State([2], [7])], 100)
    assert days_version(states, 100) != days_version(states, 101)  # a school registered since


def test_the_key_changes_with_the_model_the_days_the_schools_and_the_rain():
    schools = np.array([3, 4, 5])
    key = forecast_key(7, "days-a", schools, None)
    assert key == forecast_key(7, "days-a", schools.astype(np.int32), None)
    others = [forecast_key(8, "days-a", schools, None), forecast_key(7, "days-b", schools, None),
              forecast_key(7, "days-a", np.array([3, 4]), None), forecast_key(7, "days-a", schools, [5.0] * 7)]
    assert len({key, *others}) == 5

"""A copy of the live state of some districts, with the twin's day beside it.

A service that works on an area copies the state of only its districts (`ShardRouter.state_copies`
with districts): at India scale one shard may host every district, and a copy of all of them is
~1 GiB through Ray's object store. Such a copy holds only the days of the shards hosting those
districts, so the twin's day is read too (`ShardRouter.twin_day`, from the shards' statuses): a
shard without the newest day's reports must not move the area's day back from the whole twin's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from twin.state import ShardState

# A copy of the shards' state: of every district (None), or of only the districts (indices) given.
LiveStates = Callable[[Sequence[int] | None], Awaitable[list[ShardState]]]
TwinDay = Callable[[], Awaitable[int]]  # the twin's day (days since the epoch), without copying state


async def live_copy(live_states: LiveStates, twin_day: TwinDay,
                    districts: Sequence[int] | None) -> tuple[list[ShardState], int]:
    """A copy of the live state of `districts` (None: every one), and the twin's day: the later of
    the statuses' and the copy's, should a new day come between the two reads."""
    day, states = await asyncio.gather(twin_day(), live_states(districts))
    return states, max([day, *(int(s.today[0]) for s in states)])

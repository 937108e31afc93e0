"""Reads of the live twin: a school, a block, a district, the state; and many scopes' views at once
(`views`: one call to each shard hosting some of them), which `scope_view` gathers from the reads
asked for at about the same moment (a replica's dashboard scopes due after one shard's news)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from actors.router import ShardRouter
from serve_app.shared.places import block_index, district_index
from twin import geography
from twin.directory import Directory
from twin.errors import NotFound
from twin.ports import ShardPort

Scope = tuple[Literal["state", "district", "block"], int]  # ("state", 0), ("district", d), ("block", b): global indices

GATHER_S = 0.01  # `scope_view`: how long the first read of a moment waits for others to join it


class TwinReader:
    def __init__(self, directory: Directory, router: ShardRouter, state_view: Callable[[], Awaitable[dict]],
                 gather_s: float = GATHER_S) -> None:
        self._directory = directory
        self._router = router
        self._state_view = state_view
        self._gather_s = gather_s
        self._asked: dict[Scope, asyncio.Future] = {}  # the reads waiting for the next `views`
        self._reading: set[asyncio.Task] = set()  # the `views` under way (kept: the loop holds tasks weakly)
        self.gathered = {"calls": 0, "scopes": 0}  # `views` calls made by `scope_view`, and the scopes they read

    async def school(self, school_id: str) -> dict:
        i = self._directory.index(school_id) if school_id.isdigit() else -1
        if i < 0:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        district = int(self._directory.school_district[i])
        view = await self._router.shard_of(district).school(i)
        if view is None:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        block = int(self._directory.school_block[i])
        return {"district": geography.district_names()[district], "block": self._directory.blocks.names[block], **view}

    async def block(self, name: str, district: str | None = None) -> dict:
        b = block_index(self._directory, name, district)
        d = int(self._directory.blocks.district[b])
        view = await self._router.shard_of(d).block(b)
        return {"district": geography.district_names()[d], **view}

    async def district(self, name: str) -> dict:
        d = self._district_index(name)
        view = await self._router.shard_of(d).district(d)
        return {"district": geography.district_names()[d], **view}

    async def state(self) -> dict:
        return await self._state_view()

    async def views(self, scopes: Sequence[Scope]) -> dict[Scope, dict | Exception]:
        """The views of `scopes`, as `state`, `district` and `block` give them, read with one call to
        each shard hosting some of the districts and blocks (`ShardPort.views`) and one to the state
        twin if the state is asked for, all at once. A scope whose read failed (its shard restarting,
        say) maps to the exception; one its shard does not host, to NotFound."""
        names, blocks = geography.district_names(), self._directory.blocks
        by_shard: dict[int, tuple[ShardPort, list[int], list[int]]] = {}  # id(port) -> districts, blocks
        for kind, i in dict.fromkeys(scopes):
            if kind == "state":
                continue
            port = self._router.shard_of(i if kind == "district" else int(blocks.district[i]))
            part = by_shard.setdefault(id(port), (port, [], []))
            part[1 if kind == "district" else 2].append(i)
        parts = list(by_shard.values())
        calls: list[Awaitable] = [port.views(ds, bs) for port, ds, bs in parts]
        state = ("state", 0) in scopes
        if state:
            calls.append(self._state_view())
        got = await asyncio.gather(*calls, return_exceptions=True)
        out: dict[Scope, dict | Exception] = {}
        for (_, ds, bs), answer in zip(parts, got):
            for kind, indices, k in (("district", ds, 0), ("block", bs, 1)):
                for j, i in enumerate(indices):
                    if isinstance(answer, BaseException):
                        out[(kind, i)] = _exception(answer)
                        continue
                    view = answer[k][j]
                    d = i if kind == "district" else int(blocks.district[i])
                    out[(kind, i)] = NotFound(f"no {kind} {i} on its shard", {kind: i}) if view is None \
                        else {"district": names[d], **view}
        if state:
            out[("state", 0)] = _exception(got[-1]) if isinstance(got[-1], BaseException) else got[-1]
        return out

    async def scope_view(self, scope: Scope) -> dict:
        """The view of one scope, read with the other scopes asked for within `gather_s` of the first
        of them in one `views`: dashboards due at one moment cost one call per shard, not one each."""
        future = self._asked.get(scope)
        if future is None:
            loop = asyncio.get_running_loop()
            if not self._asked:
                loop.call_later(self._gather_s, self._start_reading)
            future = self._asked[scope] = loop.create_future()
        return await asyncio.shield(future)  # a caller cancelled does not cancel the others' read

    def _start_reading(self) -> None:
        task = asyncio.get_running_loop().create_task(self._read_asked())
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)

    async def _read_asked(self) -> None:
        asked, self._asked = self._asked, {}
        self.gathered["calls"] += 1
        self.gathered["scopes"] += len(asked)
        try:
            views = await self.views(list(asked))
        except Exception as exc:  # noqa: BLE001 - handed to every reader of the moment
            views = dict.fromkeys(asked, exc)
        for scope, future in asked.items():
            if future.done():
                continue
            view = views[scope]
            if isinstance(view, Exception):
                future.set_exception(view)
                future.exception()  # retrieved here: a reader cancelled meanwhile leaves no warning
            else:
                future.set_result(view)

    @staticmethod
    def _district_index(name: str) -> int:
        return district_index(name)


def _exception(exc: BaseException) -> Exception:
    return exc if isinstance(exc, Exception) else RuntimeError(repr(exc))

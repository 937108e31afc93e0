"""`RiskService.risks`: many schools' risk in one lookup, only those inside the caller's area that
the desk scores; strings that are no school's code are skipped, not errors."""

import numpy as np

from serve_app.risk.service import RiskService
from tests.fixtures.builders import small_directory
from twin.area import Area


class _Desk:
    def __init__(self) -> None:
        self.asked: list[np.ndarray] = []

    async def risks(self, schools: np.ndarray) -> list[dict | None]:
        self.asked.append(schools)
        return [None if i == 1 else {"index": int(i)} for i in schools.tolist()]  # school 1 is not scored


async def test_many_risks_in_one_read_inside_the_area():
    directory, _ = small_directory()
    desk = _Desk()
    service = RiskService(directory, desk)
    ids = [f"{int(s):011d}" for s in directory.school_ids]
    ariyalur = [s for s, d in zip(ids, directory.school_district) if d == 0]
    other = next(s for s, d in zip(ids, directory.school_district) if d != 0)
    asked = [*ariyalur, other, "not-a-code", "³3", "9" * 30, "33999999999"]
    found = await service.risks(asked, Area("Ariyalur"))
    assert len(desk.asked) == 1  # one read for them all
    assert set(found) == {s for s in ariyalur if directory.index(s) != 1}
    assert all(found[s]["index"] == directory.index(s) for s in found)
    assert await service.risks(["nothing", other], Area("Ariyalur")) == {}

"""A long step says how far it is at every tenth, with the time left from the pace so far."""

from simulation.progress import ProgressLine


def test_says_each_tenth_once_with_an_estimate_from_the_pace_and_done_at_the_end():
    now = [0.0]
    said: list[str] = []
    line = ProgressLine("history", said.append, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] = done * 0.5  # half a second a step
        line(done, 100)
    assert len(said) == 10
    assert said[0] == "history: 10 of 100 (10%) in 5 s, about 45 s left"
    assert said[4] == "history: 50 of 100 (50%) in 25 s, about 25 s left"
    assert said[-1] == "history: 100 of 100 (100%) in 50 s, done"


def test_a_jump_past_several_tenths_is_said_once_and_nothing_for_an_empty_step():
    said: list[str] = []
    line = ProgressLine("rows", said.append, clock=lambda: 1.0)
    line(35, 100)
    line(38, 100)
    assert len(said) == 1 and "35 of 100" in said[0]
    ProgressLine("none", said.append)(0, 0)
    assert len(said) == 1

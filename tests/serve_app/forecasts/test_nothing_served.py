"""With no model served, the risk read's learned part and a report's forecast say so from the
registry's pointer, without importing the models' code (torch, scikit-learn: seconds on a replica's
first such request, which a school's risk read paid for a `learned: null`)."""

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    import numpy as np
    from serve_app.forecasts.service import ModelService
    from tests.fixtures.builders import small_directory
    from twin.errors import Unavailable

    async def main():
        directory, _ = small_directory()
        async def no_states():
            raise AssertionError("the twin's state was read with no model served")
        async def day():
            return 10
        models = ModelService(Path(sys.argv[1]), directory, no_states, day)
        assert await models.learned_risk(0) is None
        try:
            await models.forecast(np.array([0, 1]), None)
        except Unavailable as exc:
            assert "no forecaster" in str(exc)
        else:
            raise AssertionError("a forecast with no forecaster served")
        heavy = sorted(m for m in ("ml.serving", "torch", "sklearn") if m in sys.modules)
        assert not heavy, heavy

    asyncio.run(main())
""")


def test_nothing_served_is_answered_without_the_models_code(tmp_path):
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path)], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

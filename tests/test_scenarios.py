"""The project's end-to-end stories, written as scenario files a finance person can read."""
from __future__ import annotations

from pathlib import Path

import pytest

from billing.tools.simulate import Simulation, load

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario(path):
    simulation = Simulation()
    try:
        simulation.run(load(path))
        assert simulation.failures == []
        assert "ledger of" in simulation.table()
    finally:
        simulation.close()


def test_a_wrong_expectation_is_reported(tmp_path):
    scenario = (Path(__file__).parent / "scenarios" / "expiry.yaml").read_text().replace('"3973"', '"3974"')
    path = tmp_path / "wrong.yaml"
    path.write_text(scenario)
    simulation = Simulation()
    try:
        simulation.run(load(path))
        assert simulation.failures == ["step 5: lazy.ledger_sum[charge_reversal] is '3973', expected '3974'"]
    finally:
        simulation.close()

"""The run-time estimate (minivgg.app.estimate): the plan before iteration 1 and the ETA during the run,
checked on made-up traces and on traces recorded from real runs (tests/data/eta_traces.json; no timing
happens in these tests)."""

import json
from pathlib import Path

import pytest

from minivgg.app.estimate import (
    LBFGS_EXTRA_EVALS,
    LONG_RUN_SECONDS,
    STEP_OVERHEAD,
    Eta,
    expected_evaluations,
    plan,
    plan_line,
    step_flop,
)

TRACES = json.loads((Path(__file__).parent / "data" / "eta_traces.json").read_text())


def test_expected_evaluations():
    assert expected_evaluations(100, "lbfgs") == 100 + LBFGS_EXTRA_EVALS
    assert expected_evaluations(100, "adam") == 100


def test_plan_prices_coarser_scales_by_their_flop():
    one = plan(2.0, [(96, 128)], [50], "conv5_1", n_styles=1)
    assert one["per_eval"] == [2.0]
    assert one["seconds"] == pytest.approx(2.0 * (STEP_OVERHEAD * (50 + LBFGS_EXTRA_EVALS) + 0.4 * 2))
    two = plan(2.0, [(48, 64), (96, 128)], [50, 50], "conv5_1")
    ratio = step_flop((48, 64), "conv5_1") / step_flop((96, 128), "conv5_1")
    assert ratio == pytest.approx(0.25)
    assert two["per_eval"] == pytest.approx([0.5, 2.0])
    assert plan(0.0, [(8, 8)], [3], None)["seconds"] == 0.0      # no active layer


def test_plan_line_says_plainly_when_a_run_is_long():
    assert plan_line(250, 2**30, "500 iterations at 256x170 px") == \
        "estimate: about 4m10s and 1.0 GB of memory for 500 iterations at 256x170 px"
    long = plan_line(LONG_RUN_SECONDS + 1, 2**30, "x")
    assert "long run (over 10 minutes)" in long and "--size" in long


def test_eta_ignores_the_first_iteration_and_follows_the_recent_rate():
    # Iteration 1 takes 10 s (warm-up and the first line search), then 1 s each.
    eta = Eta([100], [1.0 / STEP_OVERHEAD])
    per, left = eta.update(0, 1, now=10.0)
    assert per == pytest.approx(1.0) and left == pytest.approx(99.0)      # the plan's rate, not 10 s/iter
    for it in range(2, 21):
        per, left = eta.update(0, it, now=10.0 + (it - 1))
    assert per == pytest.approx(1.0) and left == pytest.approx(80.0)
    # The machine slows down to 2 s per iteration: the window of 10 follows within 10 iterations.
    t = 29.0
    for it in range(21, 41):
        t += 2.0
        per, left = eta.update(0, it, now=t)
    assert per == pytest.approx(2.0) and left == pytest.approx(120.0)


def test_eta_prices_later_scales_by_the_plan():
    eta = Eta([10, 10], [0.25, 1.0])
    for it in range(1, 6):
        per, left = eta.update(0, it, now=0.5 * it)         # the small scale runs slower than planned
    assert per == pytest.approx(0.5)
    assert left == pytest.approx(0.5 * 5 + 1.0 * (STEP_OVERHEAD * (10 + LBFGS_EXTRA_EVALS) + 0.8))
    per, left = eta.update(1, 1, now=100.0)                 # a new scale: its own window, the plan until then
    assert per == pytest.approx(STEP_OVERHEAD) and left == pytest.approx(9 * STEP_OVERHEAD)


def _replay(trace):
    """(first estimate, [(iteration, estimated remaining, true remaining)]) for a recorded run."""
    eta = Eta(trace["schedule"], plan(trace["eval_seconds"], [tuple(s) for s in trace["shapes"]], trace["schedule"],
                                      trace["upto"], n_styles=1)["per_eval"])
    first = plan(trace["eval_seconds"], [tuple(s) for s in trace["shapes"]], trace["schedule"], trace["upto"],
                 n_styles=1)["seconds"]
    total = trace["seconds"][-1]
    rows, n = [], 0
    for k, count in enumerate(trace["schedule"]):
        for it in range(1, count + 1):
            now = trace["seconds"][n]
            _, left = eta.update(k, it, now=now)
            rows.append((n + 1, left, total - now))
            n += 1
    return first, rows


@pytest.mark.parametrize("name", sorted(TRACES))
def test_recorded_runs_first_estimate_within_half_to_twice(name):
    trace = TRACES[name]
    first, _ = _replay(trace)
    assert 0.5 <= first / trace["total"] <= 2.0, (first, trace["total"])


@pytest.mark.parametrize("name", sorted(TRACES))
def test_recorded_runs_eta_within_half_to_twice_while_it_matters(name):
    _, rows = _replay(TRACES[name])
    for n, est, true in rows:
        if n >= 2 and true > 20.0:                          # the last seconds are all rounding
            assert 0.5 <= est / true <= 2.0, (n, est, true)


def test_the_old_cumulative_estimate_fails_on_a_recorded_run():
    """The test above can fail: the former ETA (elapsed / iterations done) is far off at iteration 1."""
    trace = TRACES[sorted(TRACES)[0]]
    t1, total, n = trace["seconds"][0], trace["seconds"][-1], sum(trace["schedule"])
    old = t1 * (n - 1)
    assert not 0.5 <= old / (total - t1) <= 2.0

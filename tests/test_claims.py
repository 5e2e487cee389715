"""dlbook.claims.compare is a calibrated test: simulations of its false-positive rate and power.

Each simulation draws seed-to-seed noise from a normal distribution with a fixed
NumPy generator, so the estimates are the same on every run. Monte-Carlo error is
accounted for: with N simulations an estimated rate r has standard error
sqrt(r (1 - r) / N); the bounds below leave three of those.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from dlbook import claims

N_SIM = 4000


def _rate(n_seeds: int, gap: float, *, paired: bool = False, correlation: float = 0.0, seed: int = 0) -> float:
    """How often compare() calls A and B different, A's mean ``gap`` standard deviations above B's."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((N_SIM, n_seeds))  # what seed i's randomness does to both settings
    own = rng.standard_normal((2, N_SIM, n_seeds))
    a = gap + math.sqrt(correlation) * shared + math.sqrt(1 - correlation) * own[0]
    b = math.sqrt(correlation) * shared + math.sqrt(1 - correlation) * own[1]
    hits = sum(claims.compare(a[i], b[i], paired=paired).measurable for i in range(N_SIM))
    return hits / N_SIM


def _slack(rate: float) -> float:
    return 3 * math.sqrt(rate * (1 - rate) / N_SIM)


@pytest.mark.parametrize("n_seeds", [3, 5, 10])
@pytest.mark.parametrize("paired", [False, True])
def test_false_positive_rate_is_at_most_five_percent_where_nothing_differs(n_seeds, paired):
    rate = _rate(n_seeds, 0.0, paired=paired, correlation=0.5 if paired else 0.0, seed=n_seeds)
    assert rate <= claims.LEVEL + _slack(claims.LEVEL), rate
    if paired:  # the paired test is exact for normal noise: a 5% test, not a timid one
        assert rate >= claims.LEVEL - _slack(claims.LEVEL), rate
    # (Welch's degrees of freedom are an approximation, conservative at few seeds: 3.4% at 3)


def test_the_old_rule_non_overlapping_ranges_was_not_calibrated_at_three_seeds():
    """The rule compare() replaced: 'measurable' when the seed ranges do not overlap."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, N_SIM, 3))
    rate = np.mean((a.min(1) > b.max(1)) | (a.max(1) < b.min(1)))
    assert rate > claims.LEVEL + _slack(claims.LEVEL)  # 2 / C(6, 3) = 10% in theory


def test_power_at_five_seeds_for_a_gap_of_two_standard_deviations_is_at_least_seventy_percent():
    rate = _rate(5, 2.0, seed=11)
    assert rate >= 0.70 + _slack(0.70), rate


def test_pairing_gains_power_when_seeds_share_their_randomness():
    welch = _rate(5, 1.0, correlation=0.8, seed=12)
    paired = _rate(5, 1.0, paired=True, correlation=0.8, seed=12)
    assert paired > welch + _slack(0.5)


def test_the_interval_covers_the_true_difference_ninety_five_percent_of_the_time():
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(N_SIM):
        a = 0.3 + rng.standard_normal(5)
        b = rng.standard_normal(5) * 2.0  # unequal spreads: Welch's case
        lo, hi = claims.compare(a, b).ci
        covered += lo <= 0.3 <= hi
    rate = covered / N_SIM
    assert abs(rate - 0.95) <= _slack(0.95), rate


@pytest.mark.parametrize("paired", [False, True])
def test_compare_agrees_with_scipy_and_its_verdict_follows_the_p_value_and_the_sign(paired):
    rng = np.random.default_rng(4)
    for _ in range(200):
        a, b = rng.standard_normal(4) + rng.uniform(-2, 2), rng.standard_normal(4)
        for higher_is_better in (True, False):
            c = claims.compare(a, b, higher_is_better=higher_is_better, paired=paired)
            ref = stats.ttest_rel(a, b) if paired else stats.ttest_ind(a, b, equal_var=False)
            assert c.p_value == pytest.approx(ref.pvalue, rel=1e-12)
            assert c.ci[0] < c.difference < c.ci[1]
            assert c.measurable == (ref.pvalue < 0.05)
            if c.measurable:
                a_higher = a.mean() > b.mean()
                assert c.verdict == ("better" if a_higher == higher_is_better else "worse")


def test_without_any_spread_over_seeds_the_difference_is_exact():
    c = claims.compare([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert (c.verdict, c.p_value, c.ci) == ("no measurable difference", 1.0, (0.0, 0.0))
    c = claims.compare([3.0, 3.0], [1.0, 1.0], higher_is_better=False)
    assert (c.verdict, c.p_value, c.ci) == ("worse", 0.0, (2.0, 2.0))
    c = claims.compare([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], paired=True)  # every seed gains exactly 1
    assert (c.verdict, c.ci) == ("better", (1.0, 1.0))


def test_holm_controls_the_chance_of_any_false_verdict_in_a_table_of_twelve():
    rng = np.random.default_rng(5)
    n_tables, m = 1000, 12
    any_raw = any_holm = 0
    for _ in range(n_tables):
        table = [claims.compare(*rng.standard_normal((2, 5))) for _ in range(m)]
        any_raw += any(c.measurable for c in table)
        any_holm += any(c.measurable for c in claims.holm(table))
    assert any_raw / n_tables > 0.3  # 1 - 0.95^12 = 46% without correction
    assert any_holm / n_tables <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / n_tables)


def test_holm_adjusts_as_the_textbook_example_does():
    # Holm's procedure on p = (0.01, 0.04, 0.03, 0.005): sorted 0.005, 0.01, 0.03, 0.04
    # -> 4 * 0.005 = 0.02, 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(0.06, 1 * 0.04) = 0.06
    base = claims.compare([1.0, 2.0], [0.0, 1.5])
    table = [dataclasses.replace(base, p_value=p) for p in (0.01, 0.04, 0.03, 0.005)]
    adjusted = claims.holm(table)
    assert [c.p_value for c in adjusted] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [c.measurable for c in adjusted] == [True, False, False, True]
    assert all(c.adjusted == 4 for c in adjusted)
    assert "Holm-adjusted over 4 comparisons" in adjusted[0].evidence()


@pytest.mark.parametrize("level", [0, 1, -0.1, 1.5, "0.05", True])
def test_compare_rejects_a_level_outside_zero_one(level):
    with pytest.raises(ValueError, match="level"):
        claims.compare([1.0, 2.0], [0.0, 1.0], level=level)


def test_holm_rejects_what_is_not_a_comparison():
    with pytest.raises(TypeError, match="Comparison"):
        claims.holm([0.01, 0.02])

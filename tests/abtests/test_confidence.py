"""The confidence figure of an A/B test: a two-proportion z-test checked against hand sums."""

import pytest

from postroom.abtests.confidence import MIN_EACH, compare, two_sided, z_score


def test_a_three_point_lead_of_a_thousand_each_is_97_percent_sure():
    """By hand: 120 of 1000 (12 %) against 90 of 1000 (9 %). Pooled rate 210/2000 = 0.105;
    standard error sqrt(0.105 * 0.895 * (1/1000 + 1/1000)) = sqrt(0.00018795) = 0.013710;
    z = 0.03 / 0.013710 = 2.188; a normal table gives Phi(2.19) = 0.9857, so the two-sided
    confidence is 2 * 0.9857 - 1 = 0.971: "97 %"."""
    assert z_score(120, 1000, 90, 1000) == pytest.approx(2.188, abs=0.001)
    found = compare("B", 120, 1000, "A", 90, 1000)
    assert found.confidence == pytest.approx(0.971, abs=0.001)
    assert (found.points, found.percent, found.confident) == (3.0, 97, True)
    assert found.summary() == "B leads A by 3.0 points; 97 % confidence"


def test_a_five_point_lead_of_two_hundred_each_could_be_chance():
    """By hand: 30 of 200 (15 %) against 20 of 200 (10 %). Pooled 50/400 = 0.125; error
    sqrt(0.125 * 0.875 * (2/200)) = sqrt(0.00109375) = 0.033072; z = 0.05 / 0.033072 = 1.512;
    Phi(1.51) = 0.9345, so 2 * 0.9345 - 1 = 0.869: "86 %", under 95 %."""
    found = compare("A", 30, 200, "B", 20, 200)
    assert found.confidence == pytest.approx(0.869, abs=0.001)
    assert not found.confident
    assert found.summary() == "A leads B by 5.0 points; 86 % confidence (could be chance)"


def test_the_textbook_z_values_give_95_and_99_percent():
    assert two_sided(1.959964) == pytest.approx(0.95, abs=1e-6)
    assert two_sided(-2.575829) == pytest.approx(0.99, abs=1e-6)
    assert two_sided(0.0) == 0.0


def test_it_is_too_early_to_tell_until_each_group_has_ten_who_did_and_ten_who_did_not():
    assert MIN_EACH == 10
    big_lead = compare("B", 12, 50, "A", 3, 50)  # 24 % against 6 %, but only 3 opened in A
    assert big_lead.too_early and big_lead.confidence is None
    assert big_lead.summary() == "B leads A by 18.0 points; too early to tell"
    assert compare("B", 95, 100, "A", 50, 100).too_early  # only 5 in B did not
    assert not compare("B", 10, 20, "A", 10, 20).too_early  # 10 and 10 in each: enough
    assert compare("A", 0, 0, "B", 0, 0).summary() == "A and B are level so far; too early to tell"


def test_equal_rates_are_level_with_no_confidence_in_either():
    found = compare("A", 40, 100, "B", 20, 50)
    assert (found.points, found.confidence) == (0.0, 0.0)
    assert found.summary() == "A and B are level"


def test_the_percent_is_rounded_down_and_never_a_certain_hundred():
    found = compare("A", 300, 1000, "B", 100, 1000)  # z = 11: erf gives 1.0 in floating point
    assert found.confidence is not None and found.confidence > 0.999
    assert found.percent == 99
    assert compare("A", 996, 10_000, "B", 900, 10_000).percent == 97  # 0.9795: not 98

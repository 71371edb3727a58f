"""The claims' rules on synthetic data: each measure on a known history, every verdict reached,
one family with Holm's correction, the paired ablation, test digits as well as seeds, and a rule
that could not fail caught."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from mnist_lab.core.run_dir import Run
from mnist_lab.findings import claims, measures
from mnist_lab.findings.stats import TTest, digit_component, holm, one_sample, paired, seeds_to_detect, t_power, welch
from mnist_lab.report import claims_tables

RNG = np.random.default_rng(59)


def run(val_accuracy, accuracy=None, val_ce=None, epochs=20, seed=0, test=0.99, stage="dnn", wrong=None, **metrics):
    """A Run in memory: its history, and the test digits it got wrong (10,000; default: the first ones)."""
    history = [
        {
            "epoch": i + 1,
            "val_accuracy": v,
            "accuracy": (accuracy or val_accuracy)[i],
            "val_loss": (val_ce or [0.1] * len(val_accuracy))[i],
            "val_cross_entropy": (val_ce or [0.1] * len(val_accuracy))[i],
        }
        for i, v in enumerate(val_accuracy)
    ]
    wrong = range(round((1 - test) * 10_000)) if wrong is None else wrong
    base = {"test_accuracy": test, "epochs_run": len(history), "best_epoch": len(history)}
    base |= {"misclassified": [[int(i), 7, 1] for i in wrong], "data": {"test": 10_000}}
    return Run(Path("x"), {"stage": stage, "epochs": epochs, "seed": seed}, history, {**base, **metrics})


def verdict_of(part_key: str, evidence: claims.Evidence) -> claims.Finding:
    """One registry part judged alone (a family of one)."""
    (row,) = claims.verdicts(evidence, [next(p for p in claims.PARTS if p.key == part_key)])
    return row.finding


def fixed(test: TTest, measure="test accuracy", direction=+1, band=None) -> claims.Part:
    """A part whose evaluation returns `test` as it is: for the family's rules alone."""
    finding = claims.Finding("synthetic", test, measure, direction, band=band)
    return claims.Part(1, f"p{id(test)}", "q", "p", lambda evidence: finding)


# --- measures


def test_the_measures_on_a_known_history():
    r = run([0.97, 0.985, 0.992, 0.99], accuracy=[0.95, 0.99, 0.999, 1.0], val_ce=[0.09, 0.05, 0.04, 0.06])
    assert measures.overfitting_gap(r) == pytest.approx(1.0)  # 100% train, 99% validation at the last epoch
    assert measures.epochs_to(r, 0.98) == 2 and measures.epochs_to(r, 0.99) == 3
    assert measures.epochs_to(r, 0.999) == 21  # never reached: the budget + 1
    assert measures.first_epoch_accuracy(r) == pytest.approx(97.0)
    assert math.isnan(measures.loss_trend(r))  # two epochs in its second half: too few for a trend
    climbing = run([0.99] * 8, val_ce=[0.1, 0.08, 0.06, 0.05, 0.05, 0.055, 0.06, 0.065])
    assert measures.loss_trend(climbing) == pytest.approx(10.0)  # +0.005 an epoch, 10% of the minimum 0.05
    assert measures.log_swing(run([0.90, 0.92, 0.90, 0.92])) == pytest.approx(
        math.log(measures.swing(run([0.9, 0.92, 0.9, 0.92])))
    )
    assert measures.correct_digits(run([0.99], test=0.9997)).sum() == 9_997


# --- the statistics the rules take, against the libraries that define them


def test_welch_paired_and_tost_agree_with_scipy_and_statsmodels():
    a, b = RNG.normal(0, 1, 7), RNG.normal(0.8, 2, 9)
    test = welch(a, b)
    reference = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert test.p == pytest.approx(reference.pvalue) and test.interval() == pytest.approx(
        tuple(reference.confidence_interval())
    )
    assert test.p_within(-1, 2) == pytest.approx(ttost_ind(b, a, -1, 2, usevar="unequal")[0])
    after = a + RNG.normal(0.3, 0.1, 7)
    assert paired(a, after).p == pytest.approx(scipy_stats.ttest_rel(after, a).pvalue)
    assert paired(a, after).p_within(-0.5, 0.5) == pytest.approx(ttost_paired(after, a, -0.5, 0.5)[0])
    p = [0.01, 0.04, 0.03, 0.5]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_the_test_digits_widen_an_accuracy_interval_that_seeds_alone_would_close():
    # Two stages whose seeds agree exactly: seeds alone give no interval at all; the test digits still do.
    before = np.ones((3, 1000), bool)
    after = np.ones((3, 1000), bool)
    before[:, :10], after[:, 5:20] = False, False  # 10 and 15 errors on partly different digits
    variance, df = digit_component(before, after)
    per_digit = after.mean(axis=0).astype(float) - before.mean(axis=0)
    assert variance == pytest.approx(per_digit.var(ddof=1) / 1000) and df == 999
    assert welch([99.0] * 3, [98.5] * 3).se == 0
    assert welch([99.0] * 3, [98.5] * 3, (variance * 1e4, df)).se > 0.1


def test_the_seeds_needed_are_the_first_n_with_80_percent_power_and_none_when_the_digits_forbid():
    n = seeds_to_detect(1.0, [1.0, 4.0], 0.05)
    from mnist_lab.findings.stats import satterthwaite

    def power(k):
        se, df = satterthwaite([(1.0 / k, k - 1), (4.0 / k, k - 1)])
        return t_power(1.0, se, df, 0.05)

    assert power(int(n)) >= 0.8 > power(int(n) - 1)
    assert seeds_to_detect(1.0, [1.0, 4.0], 0.05 / 18) > n  # the family's level asks for more
    assert seeds_to_detect(0.1, [0.01], 0.05, extra=(0.01, 9999)) == -math.inf  # se of the digits alone: 0.1


# --- the family and every verdict


def test_every_verdict_is_reached_and_holm_decides_supported():
    tests = {
        "supported": TTest(0.5, 0.1, 30, (10, 10)),
        "contradicted": TTest(-0.5, 0.1, 30, (10, 10)),
        "negligible": TTest(0.01, 0.02, 30, (10, 10)),  # 90% interval about -0.02 to +0.04, within +-0.1
        "not detectable": TTest(0.1, 0.1, 30, (10, 10)),
    }
    parts = [fixed(test) for test in tests.values()]
    untestable = claims.Part(1, "u", "q", "p", lambda evidence: claims.Finding("no runs"))
    rows = claims.verdicts(claims.Evidence({}), [*parts, untestable])
    assert [row.verdict for row in rows] == [*tests, claims.NOT_TESTABLE]
    assert [row.finding.p_adjusted for row in rows[:4]] == pytest.approx(holm([t.p for t in tests.values()]))
    assert claims_tables.tally(rows).count("1 ") >= 5  # one of each verdict


def test_a_part_significant_alone_is_not_supported_once_the_family_is_corrected():
    lone = TTest(0.2, 0.09, 1000, (20, 20))  # p = 0.026
    assert lone.p == pytest.approx(0.026, abs=0.001)
    (alone,) = claims.verdicts(claims.Evidence({}), [fixed(lone)])
    assert alone.verdict == claims.SUPPORTED
    crowd = [fixed(TTest(0.0, 0.1, 1000, (20, 20))) for _ in range(5)]
    first, *_ = claims.verdicts(claims.Evidence({}), [fixed(lone), *crowd])
    assert first.finding.p == pytest.approx(lone.p) and first.finding.p_adjusted == pytest.approx(6 * lone.p)
    assert first.verdict == claims.NOT_DETECTABLE and claims.leaning(first.finding) == "leans with the claim"


def test_an_undecided_lean_is_shown_but_never_counted():
    against = fixed(TTest(-0.1, 0.1, 30, (10, 10)))
    (row,) = claims.verdicts(claims.Evidence({}), [against])
    assert row.verdict == claims.NOT_DETECTABLE and claims.leaning(row.finding) == "leans against the claim"
    tally = claims_tables.tally([row])
    assert "1 not detectable" in tally and "against" not in tally


def test_a_band_part_is_supported_inside_contradicted_outside_and_undecided_at_its_edge():
    band = (97.5, 98.5)
    inside, outside, edge = (TTest(m, 0.05, 20, (14,)) for m in (98.0, 99.0, 98.5))
    rows = claims.verdicts(claims.Evidence({}), [fixed(t, band=band) for t in (inside, outside, edge)])
    assert [row.verdict for row in rows] == [claims.SUPPORTED, claims.CONTRADICTED, claims.NOT_DETECTABLE]


# --- measures whose test can fail, on synthetic histories


def flat_noise(seed: int, trend: float = 0.0, n: int = 20) -> Run:
    noise = np.random.default_rng(seed).normal(0, 0.002, n)
    val_ce = list(0.05 + trend * np.arange(n) + noise)
    return run([0.98] * n, val_ce=val_ce, seed=seed)


@pytest.mark.parametrize(
    ("trend", "verdicts"),
    [
        (0.0, {claims.NEGLIGIBLE, claims.NOT_DETECTABLE}),  # flat and noisy: no climb, and the test says so
        (-0.002, {claims.CONTRADICTED}),  # still falling: the opposite of overfitting
        (+0.002, {claims.SUPPORTED}),  # climbing
    ],
)
def test_the_loss_trend_reaches_each_verdict_on_synthetic_histories(trend, verdicts):
    evidence = claims.Evidence({"dnn": [flat_noise(seed, trend) for seed in range(12)]})
    assert verdict_of("dnn loss", evidence).verdict in verdicts


def test_the_cnn_reg_comparison_of_loss_trends_can_fail_too():
    flat = [flat_noise(seed) for seed in range(10)]
    climbing = [flat_noise(seed + 50, +0.002) for seed in range(10)]
    same = claims.Evidence({"cnn": flat, "cnn_reg": [flat_noise(seed + 100) for seed in range(10)]})
    assert verdict_of("cnn_reg loss", same).verdict in {claims.NEGLIGIBLE, claims.NOT_DETECTABLE}
    assert verdict_of("cnn_reg loss", claims.Evidence({"cnn": climbing, "cnn_reg": flat})).verdict == claims.SUPPORTED
    assert (
        verdict_of("cnn_reg loss", claims.Evidence({"cnn": flat, "cnn_reg": climbing})).verdict == claims.CONTRADICTED
    )


def test_a_one_sample_test_of_a_measure_that_cannot_be_negative_is_caught():
    """The rule the loss trend replaced: the rise above the minimum is >= 0 by construction, so on
    runs that do not overfit at all its one-sample test still reads 'supported'. The same check
    passes the loss trend."""
    no_overfitting = [flat_noise(seed) for seed in range(12)]

    def judged_on(measure):
        test = one_sample([measure(r) for r in no_overfitting])
        return claims.verdicts(claims.Evidence({}), [fixed(test, measure="loss trend")])[0].verdict

    assert judged_on(measures.loss_rise) == claims.SUPPORTED  # the broken rule: it cannot fail
    assert judged_on(measures.loss_trend) != claims.SUPPORTED


# --- the parts' designs


def test_the_ablation_is_paired_on_the_seeds_both_arms_ran():
    offsets = [0.000, 0.0010, 0.0020, 0.0005]
    constant = [run([0.99] * 20, seed=s, test=0.9900 + o, stage="cnn_bn") for s, o in enumerate(offsets[:3])]
    with_schedule = [run([0.99] * 20, seed=s, test=0.9920 + o, stage="cnn_bn") for s, o in enumerate(offsets)]
    finding = verdict_of("plateau", claims.Evidence({"cnn_bn": with_schedule}, ablation=constant))
    assert finding.test.n == (3, 3) and finding.test.estimate == pytest.approx(0.2)  # seed 3 has no pair
    # Seeds differ by up to 0.2 points; the pairs by none: the paired test sees only the test digits' error.
    unpaired = welch(
        [100 * r.metrics["test_accuracy"] for r in constant],
        [100 * r.metrics["test_accuracy"] for r in with_schedule[:3]],
    )
    assert finding.test.se < unpaired.se
    assert verdict_of("plateau", claims.Evidence({"cnn_bn": with_schedule}, ablation=constant[:2])).test is None


def test_early_stopping_is_judged_only_where_it_acted_counted_per_stage():
    acted = [
        run([0.98] * 12, seed=s, test=0.990, best_epoch=5, last_epoch_test_accuracy=0.985 - s / 1000) for s in range(3)
    ]
    full_budget = run([0.98] * 20, seed=7, test=0.990, best_epoch=12, last_epoch_test_accuracy=0.95)
    best_was_last = run([0.98] * 12, seed=8, test=0.990, best_epoch=12, last_epoch_test_accuracy=0.95)
    evidence = claims.Evidence({"dnn": [*acted, full_budget, best_was_last]})
    assert claims.early_stopping_runs(evidence) == acted
    finding = verdict_of("early stopping", evidence)
    assert "`dnn` 3" in finding.evidence and finding.test.estimate == pytest.approx(0.6) and finding.counted == "runs"


def test_the_spread_part_is_exploratory_and_outside_the_family():
    steady = [run([0.99] * 3, seed=s, test=0.9950 + d, stage="cnn_reg") for s, d in enumerate((0, 1e-4, -1e-4, 2e-5))]
    wild = [run([0.99] * 3, seed=s, test=0.9950 + d, stage="cnn_bn") for s, d in enumerate((0, 3e-3, -3e-3, 2e-3))]
    rows = claims.verdicts(claims.Evidence({"cnn_reg": steady, "cnn_bn": wild}))
    spread = next(row for row in rows if row.part.key == "cnn_bn spread")
    assert spread.finding.exploratory and math.isnan(spread.finding.p_adjusted) and not spread.part.family
    assert spread.finding.verdict == claims.CONTRADICTED  # cnn_bn varies far more, p from the F test
    assert "exploratory" in claims_tables.tally(rows)


def test_the_band_is_judged_again_without_seed_42_and_the_campaign_parts_on_its_seeds():
    dnn = [run([0.98] * 10, seed=s, test=0.980 + s / 10_000) for s in (0, 1, 4, 5, 42)]
    band = claims.judge_band("TensorFlow, CPU", "tensorflow", claims.Evidence({"dnn": dnn}))
    approx = {row.part.key: row for row in band.rows}["dnn ~98%"]
    assert approx.finding.test.n == (5,)
    assert {row.part.key: row for row in band.without_seed_42}["dnn ~98%"].finding.test.n == (4,)
    assert [row.part.key for row in band.campaign_only] == list(claims.CAMPAIGN_PARTS)
    assert {row.part.key: row for row in band.campaign_only}["dnn ~98%"].finding.test.n == (2,)  # seeds 4 and 5


def test_every_row_says_its_unit_and_which_way_it_points():
    slower = fixed(TTest(3.18, 0.9, 20, (11, 11)), measure="epochs", direction=-1)
    part = next(p for p in claims.PARTS if p.key == "cnn_bn epochs")
    (row,) = claims.verdicts(claims.Evidence({}), [slower])
    row = claims.ClaimRow(part, row.finding)
    assert claims_tables.effect_text(row).startswith("+3.180 epochs to 99% validation accuracy (")
    assert claims_tables.effect_text(row).endswith(": slower")


def test_every_smallest_effect_of_interest_has_a_size_a_unit_and_a_reason():
    for name, declared in claims.SMALLEST_EFFECTS.items():
        assert declared.size > 0 and declared.unit and len(declared.reason) > 40, name
    tested = {part.evaluate(claims.Evidence({})).measure for part in claims.PARTS}
    assert tested - {""} <= set(claims.SMALLEST_EFFECTS)  # every measure a part tests has one declared
    table = claims_tables.smallest_effects_table()
    assert table.count("\n") == len(claims.SMALLEST_EFFECTS) + 1

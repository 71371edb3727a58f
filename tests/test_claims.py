"""The claims registry: each measure on a known history, and every verdict branch."""

from pathlib import Path

import pytest

from mnist_lab.core.run_dir import Run
from mnist_lab.findings import claims


def judged(finding):
    """A part's Finding as (verdict, evidence text)."""
    return finding.verdict, finding.evidence


def run(val_accuracy, accuracy=None, val_ce=None, epochs=20, seed=0, test=0.99, **metrics):
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
    return Run(
        Path("x"),
        {"stage": "dnn", "epochs": epochs, "seed": seed},
        history,
        {"test_accuracy": test, "epochs_run": len(history), **metrics},
    )


def test_the_measures_on_a_known_history():
    r = run([0.97, 0.985, 0.992, 0.99], accuracy=[0.95, 0.99, 0.999, 1.0], val_ce=[0.09, 0.05, 0.04, 0.06])
    assert claims.overfitting_gap(r) == pytest.approx(1.0)  # 100% train, 99% validation at the last epoch
    assert claims.loss_rise(r) == pytest.approx(0.02)
    assert claims.epochs_to(r, 0.98) == 2 and claims.epochs_to(r, 0.99) == 3
    assert claims.epochs_to(r, 0.999) == 21  # never reached: the budget + 1
    assert claims.first_epoch_accuracy(r) == pytest.approx(97.0)
    assert claims.swing(r) == pytest.approx(0.8505, rel=1e-3)  # std of (+1.5, +0.7, -0.2) points


@pytest.mark.parametrize(
    "before, after, direction, verdict",
    [
        ([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], +1, claims.SUPPORTED),
        ([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], -1, claims.CONTRADICTED),
        ([1.0, 2.0, 0.0], [1.1, 2.1, 0.1], +1, claims.NOT_DETECTABLE),
        ([1.0], [2.0, 2.1], +1, claims.NOT_TESTABLE),
    ],
)
def test_every_verdict_branch(before, after, direction, verdict):
    assert claims.judge(claims.between(before, after), direction) == verdict


@pytest.mark.parametrize(
    "values, verdict",
    [
        ([98.0, 98.1, 97.9], claims.SUPPORTED),
        ([99.0, 99.1, 98.9], claims.CONTRADICTED),
        ([98.4, 98.6, 98.5], claims.NOT_DETECTABLE),
        ([98.0], claims.NOT_TESTABLE),
    ],
)
def test_approximate_claims(values, verdict):
    assert claims.judge_approx(claims.of_one(values), 98.0) == verdict


def test_the_registry_answers_every_part_and_says_why_it_cannot():
    evidence = claims.Evidence(
        runs={
            "dnn": [
                run([0.95, 0.97], accuracy=[0.96, 0.99 + s / 1000], seed=s, test=0.98 + s / 1000) for s in range(3)
            ],
            "cnn_bn": [run([0.99, 0.995], seed=s) for s in range(3)],
        },
        robustness={"cnn_bn": [0.8]},
        ablation=[],
    )
    rows = claims.verdicts(evidence)
    assert {row.claim for row in rows} == set(range(1, 9))  # every claim of the seed's notes
    by_quote = {(row.claim, row.prediction): row for row in rows}
    gap = by_quote[(1, "dnn's training accuracy ends above its validation accuracy")]
    assert gap.verdict == claims.SUPPORTED and "mean 2.10" in gap.evidence
    assert by_quote[(6, "cnn_bn beats cnn_bn without ReduceLROnPlateau, same seeds")].verdict == claims.NOT_TESTABLE
    robustness = next(row for row in rows if row.quote == "improved robustness")
    assert robustness.verdict == claims.NOT_TESTABLE and "1 and 0 seeds" in robustness.evidence
    assert claims.claims_table(rows).count("\n") == len(rows) + 1
    tally = claims.tally(rows)
    assert tally.startswith(f"The seed's 8 claims, in {len(rows)} measurable parts: ")
    counted = [int(part.split()[0]) for part in tally.split(": ")[1].rstrip(".").split(", ")]
    assert sum(counted) == len(rows) and f"{sum(r.verdict == claims.NOT_TESTABLE for r in rows)} not testable" in tally


def test_early_stopping_counts_the_stops_and_judges_restoring_with_its_interval():
    stopped = run(
        [0.98] * 12, val_ce=[0.05] * 5 + [0.06] * 7, epochs=20, test=0.990, last_epoch_test_accuracy=0.985
    )  # stopped at 12, 0.01 above its minimum
    full = [run([0.98] * 20, seed=s, test=0.990 + s / 1000, last_epoch_test_accuracy=0.984) for s in (1, 2)]
    # restored minus last: +0.5, +0.7 and +0.8 points, mean +0.667
    older = run([0.98] * 20, seed=3)  # before runs recorded their last epoch's accuracy
    verdict, evidence = judged(claims._early_stopping(claims.Evidence(runs={"dnn": [stopped, *full, older]})))
    assert evidence.startswith("it stopped 1 of 4 seed-protocol runs before their 20 epochs (at epochs 12-12)")
    assert "stood on average 0.0100 above its minimum" in evidence
    assert verdict == claims.SUPPORTED and "+0.667 points (95% interval" in evidence and "3 runs" in evidence
    verdict, evidence = judged(claims._early_stopping(claims.Evidence(runs={"dnn": [stopped, older]})))
    assert verdict == claims.NOT_TESTABLE and "(1 so far)" in evidence


def test_the_schedule_ablation_is_judged_against_cnn_bn_on_its_own_seeds_only():
    with_schedule = [run([0.99] * 20, seed=s, test=0.9960 + s / 10000) for s in range(5)]
    with_schedule[4] = run([0.99] * 20, seed=4, test=0.9000)  # a seed the ablation lacks: must not count
    constant = [run([0.99] * 20, seed=s, test=0.9940 + s / 10000) for s in range(3)]
    verdict, evidence = judged(claims._ablation(claims.Evidence(runs={"cnn_bn": with_schedule}, ablation=constant)))
    assert verdict == claims.SUPPORTED and "difference +0.200" in evidence and "3 and 3 seeds" in evidence
    verdict, evidence = judged(claims._ablation(claims.Evidence(runs={"cnn_bn": with_schedule}, ablation=constant[:2])))
    assert verdict == claims.NOT_TESTABLE and "2 of its 3 seeds" in evidence


def test_spread_across_seeds_is_judged_on_the_ratio_of_variances():
    steady = [run([0.99] * 3, seed=s, test=0.9950 + d) for s, d in enumerate((0, 1e-4, -1e-4, 2e-5, -2e-5))]
    wild = [run([0.99] * 3, seed=s, test=0.9950 + d) for s, d in enumerate((0, 3e-3, -3e-3, 2e-3, -2e-3))]
    verdict, evidence = judged(claims._spread({"a": wild, "b": steady}, "a", "b"))
    assert verdict == claims.SUPPORTED and "5 and 5 seeds" in evidence  # b varies far less than a
    assert claims._spread({"a": steady, "b": wild}, "a", "b").verdict == claims.CONTRADICTED
    assert claims._spread({"a": steady, "b": steady}, "a", "b").verdict == claims.NOT_DETECTABLE
    assert claims._spread({"a": steady[:1], "b": wild}, "a", "b").verdict == claims.NOT_TESTABLE


def test_an_interval_end_near_zero_keeps_its_side():
    from mnist_lab.findings.claims import _signed

    assert _signed(-0.0004, 2) == "-0.0004" and _signed(0.003, 2) == "+0.003"  # never "-0.00" or "+0.00"
    assert _signed(0.0, 2) == "+0.00" and _signed(-1.236, 2) == "-1.24"


def test_an_undecided_part_reads_as_separate_sentences():
    """The evidence ends with its interval in parentheses; what follows starts a new sentence."""
    steady = [run([0.99] * 3, seed=s, test=0.9950 + d) for s, d in enumerate((0, 1e-4, -1e-4, 2e-5, -2e-5))]
    finding = claims._spread({"a": steady, "b": steady}, "a", "b")
    assert finding.verdict == claims.NOT_DETECTABLE and finding.ruled_out
    part = claims.Part(4, "q", "p", lambda evidence: finding)
    table = claims.claims_table([claims.ClaimRow(part, finding)])
    assert "seeds). Observed" in table and ") Observed" not in table.replace("). Observed", "")

"""Seed variance: the statistics on known inputs, the sweep's layout and caching, verify's exits,
and ensembles."""

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import fake_run

from mnist_lab.core.config import ConfigError
from mnist_lab.core.run_dir import load_run
from mnist_lab.findings import verify
from mnist_lab.findings.stats import (
    band_z,
    difference_interval,
    ensemble_curve,
    ensemble_errors,
    probability_of_superiority,
    seed_summary,
    variance_ratio_interval,
    verdict,
)
from mnist_lab.report.cli import main
from mnist_lab.runs.layout import seed_run_dir, stage_seeds
from mnist_lab.runs.settings import PROFILES
from mnist_lab.runs.sweep import parse_seeds, run_sweep

# --- statistics, on numbers worked out by hand


def test_seed_summary():
    summary = seed_summary([0.990, 0.992, 0.994])
    assert summary["n"] == 3 and summary["mean"] == pytest.approx(0.992)
    assert summary["std"] == pytest.approx(0.002)  # sample std (ddof 1)
    assert (summary["min"], summary["max"]) == (0.990, 0.994)


def test_welch_interval_and_a_real_step():
    # Both sds 0.001, n 3 each: se = sqrt(2/3) * 0.001, df = 4, t(0.975, 4) = 2.7764.
    before, after = [0.990, 0.991, 0.992], [0.993, 0.994, 0.995]
    difference, low, high = difference_interval(before, after)
    half = 2.7764451 * np.sqrt(2 / 3) * 0.001
    assert difference == pytest.approx(0.003)
    assert (low, high) == (pytest.approx(0.003 - half, abs=1e-9), pytest.approx(0.003 + half, abs=1e-9))
    assert verdict(before, after)["verdict"] == "real"


def test_an_overlapping_step_is_not_detectable_and_bounded():
    result = verdict([0.9960, 0.9963, 0.9958, 0.9961], [0.9962, 0.9959, 0.9964, 0.9960])
    assert result["verdict"] == "not detectable" and result["low"] < 0 < result["high"]
    assert verdict([0.996], [0.997])["verdict"] == "not enough seeds"


def test_variance_ratio_interval_on_worked_numbers():
    # variances 1.6667 and 6.6667 (ddof 1): ratio 4; F(0.975; 3, 3) = 15.439, F(0.025; 3, 3) = 1 / 15.439.
    ratio, low, high = variance_ratio_interval([1, 2, 3, 4], [1, 3, 5, 7])
    assert ratio == pytest.approx(4.0)
    assert (low, high) == (pytest.approx(4 / 15.439, rel=1e-4), pytest.approx(4 * 15.439, rel=1e-4))
    assert np.isnan(variance_ratio_interval([1.0], [1, 2])[0])  # one seed: no interval
    assert np.isnan(variance_ratio_interval([2, 2], [1, 2])[0])  # no spread to divide by
    assert np.isnan(variance_ratio_interval([1, 2], [2, 2])[0])  # a ratio of 0 has no logarithm to judge


def test_a_mean_of_identical_seeds_has_no_spread_and_no_warning():
    import warnings

    from mnist_lab.findings.stats import mean_interval

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's t interval with a zero scale warns and gives nan
        assert mean_interval([0.9, 0.9, 0.9]) == (0.9, 0.9)
        difference, low, high = difference_interval([0.9, 0.9, 0.9], [0.91, 0.92, 0.93])
    assert difference == pytest.approx(0.02)  # Welch with one variance 0: the other side's t interval
    after_low, after_high = mean_interval([0.91, 0.92, 0.93])
    assert (low, high) == (pytest.approx(after_low - 0.9), pytest.approx(after_high - 0.9))
    low, high = mean_interval([0.9, 0.91])
    assert low < 0.9 and high > 0.91


def test_probability_of_superiority_counts_ties_half():
    # Pairs (after, before): 2>1, 2=2, 3>1, 3>2 -> (1 + 0.5 + 1 + 1) / 4.
    assert probability_of_superiority([1, 2], [2, 3]) == 0.875


def test_band_z_floors_the_std_at_the_binomial_error():
    z, used = band_z(0.995, 0.996, 0.0, test_size=10_000)
    assert used == pytest.approx(np.sqrt(0.996 * 0.004 / 10_000))
    assert z == pytest.approx(-0.001 / used)


def test_ensembles_average_probabilities():
    labels = np.array([0, 1, 1])
    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])  # wrong on digit 1
    b = np.array([[0.4, 0.6], [0.1, 0.9], [0.3, 0.7]])  # wrong on digit 0
    assert ensemble_errors([a, b], labels) == set()  # averaged, each mistake is outvoted
    curve = ensemble_curve([a, b], labels)
    assert [p["members"] for p in curve] == [1, 2]
    assert curve[0]["mean"] == pytest.approx(2 / 3) and curve[1]["mean"] == 1.0


# --- the sweep's layout, protocol filter and caching


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("7,0-2,7") == [0, 1, 2, 7]
    for bad in ("", "a-b", "3-1", "-1", str(2**32)):
        with pytest.raises(ConfigError):
            parse_seeds(bad)


def test_stage_seeds_take_the_stage_run_as_seed_42_and_skip_other_protocols(tmp_path):
    fake_run(tmp_path / "cnn", "cnn", 0.993, 70)
    fake_run(seed_run_dir(tmp_path, "cnn", 0), "cnn", 0.992, 80, seed=0)
    fake_run(seed_run_dir(tmp_path, "cnn", 1), "cnn", 0.950, 500, seed=1, epochs=2)  # another protocol
    assert [run.seed for run in stage_seeds(tmp_path, "cnn")] == [0, 42]


def test_another_precision_is_a_sweep_of_its_own(tmp_path):
    fake_run(tmp_path / "cnn_bn", "cnn_bn", 0.9963, 37)
    for seed, accuracy in ((42, 0.9961), (0, 0.9960)):
        out = seed_run_dir(tmp_path, "cnn_bn", seed, "mixed_bfloat16")
        assert out == tmp_path / "precision" / "mixed_bfloat16" / "cnn_bn" / f"seed_{seed}"
        fake_run(out, "cnn_bn", accuracy, 40, seed=seed, precision="mixed_bfloat16")
    assert [run.seed for run in stage_seeds(tmp_path, "cnn_bn")] == [42]
    assert [run.seed for run in stage_seeds(tmp_path, "cnn_bn", precision="mixed_bfloat16")] == [0, 42]


def test_the_precision_check_compares_the_same_seeds_and_needs_three(tmp_path):
    from mnist_lab.findings.precision_check import precision_comparison, precision_markdown

    def runs(precision, accuracies, folder=""):
        return [
            load_run(fake_run(tmp_path / (folder or precision) / str(s), "cnn_bn", a, 40, seed=s, precision=precision))
            for s, a in accuracies.items()
        ]

    float32 = runs("float32", {42: 0.9963, 0: 0.9958, 1: 0.9960, 7: 0.9900})
    bf16 = runs("mixed_bfloat16", {42: 0.9961, 0: 0.9960})
    two = precision_comparison(float32, bf16)
    assert two["seeds"] == [0, 42] and not two["allowed"]  # seed 7 has no bf16 twin; two seeds are too few
    assert two["difference"] == pytest.approx((0.9961 + 0.9960 - 0.9963 - 0.9958) / 2)
    assert "not shown to be harmless" in "\n".join(precision_markdown("cnn_bn", "mixed_bfloat16", two))

    one = "\n".join(precision_markdown("cnn_bn", "mixed_bfloat16", precision_comparison(float32, bf16[:1])))
    assert "over the same 1 seed (42)" in one and "too few seeds for an interval" in one
    assert "No seed has both runs on one CPU model" in "\n".join(precision_markdown("cnn_bn", "mixed_bfloat16", two))

    bf16 += runs("mixed_bfloat16", {1: 0.9959})
    # Seeds 0 and 1 trained in both precisions on one CPU model; seed 42's float32 run on another.
    for run, model, speed in [
        *zip(float32[:3], ("old CPU", "EPYC", "EPYC"), (100, 300, 280), strict=True),
        *zip(bf16, ("EPYC", "EPYC", "EPYC"), (900, 400, 380), strict=True),
    ]:
        run.metrics.update(images_per_second=speed, environment={"cpu": {"model": model}})
    three = precision_comparison(float32, bf16)
    assert three["allowed"] and three["low"] < 0 < three["high"]
    assert three["speed"] == {"ref": [300, 280], "other": [400, 380]} and three["cpus"] == ["EPYC"]
    text = "\n".join(precision_markdown("cnn_bn", "mixed_bfloat16", three))
    assert "inside the seed noise" in text
    assert "over the 2 seeds whose two runs had the same CPU model (EPYC): 1.34x" in text

    far = precision_comparison(float32, runs("mixed_bfloat16", {42: 0.990, 0: 0.991, 1: 0.9905}, "far"))
    assert far["verdict"] == "real" and not far["allowed"]
    none = precision_markdown("cnn_bn", "mixed_bfloat16", precision_comparison(float32, []))
    assert "No `cnn_bn` run in mixed_bfloat16 shares a seed" in "\n".join(none)


def test_a_sweep_trains_each_seed_once(tmp_path, capsys):
    first = run_sweep(["dnn"], [0, 1], "quick", tmp_path, verbose=0)
    assert [run.seed for run in first] == [0, 1]
    assert {p.name for p in (tmp_path / "seeds" / "dnn" / "seed_0").iterdir()} == {
        "config.json",
        "history.json",
        "metrics.json",
        "test_probabilities.npz",
        "model.keras",  # for mnist-lab robustness; git ignores it under reports/seeds/
        "robustness.json",
        "robustness_predictions.npz",
    }
    assert first[0].metrics["test_accuracy"] != first[1].metrics["test_accuracy"]  # seeds differ
    capsys.readouterr()
    again = run_sweep(["dnn"], [0, 1], "quick", tmp_path, verbose=0)
    out = capsys.readouterr().out
    assert out.count("reused ") == 2 and "reusing the finished run" not in out  # read, not handed to training
    assert [run.metrics for run in again] == [run.metrics for run in first]
    assert again.reused == list(again) and again.trained == [] and first.trained == list(first)


# --- verify: inside, outside, another protocol


@pytest.fixture
def band(tmp_path):
    """cnn_bn with five committed seeds around 99.60%."""
    for seed, accuracy in zip((42, 0, 1, 2, 3), (0.9960, 0.9958, 0.9962, 0.9961, 0.9959), strict=True):
        fake_run(seed_run_dir(tmp_path, "cnn_bn", seed), "cnn_bn", accuracy, round(10_000 * (1 - accuracy)), seed=seed)
    return tmp_path


@pytest.mark.parametrize(
    "accuracy, config, code, says",
    [
        (0.9960, {}, verify.INSIDE, "INSIDE the band"),
        (0.9910, {}, verify.OUTSIDE, "OUTSIDE the band"),  # 0.5 points lower
        (0.9960, {"epochs": 5}, verify.INCOMPARABLE, "epochs 5 (band: 20)"),
    ],
)
def test_verify_exits(band, tmp_path, monkeypatch, capsys, accuracy, config, code, says):
    mine = fake_run(tmp_path / "mine", "cnn_bn", accuracy, round(10_000 * (1 - accuracy)), seed=7, **config)
    result = verify.check_run(load_run(mine), band)
    assert result.code == code and says in "\n".join(result.lines)
    monkeypatch.setattr(verify, "reports_root", lambda profile: band)
    assert main(["verify", str(mine)]) == code
    assert says in capsys.readouterr().out


def test_verify_of_a_committed_seed_leaves_it_out_of_its_own_band(band):
    result = verify.check_run(load_run(seed_run_dir(band, "cnn_bn", 0)), band)
    assert result.code == verify.INSIDE and "over 4 committed seeds" in result.lines[0]


def test_verify_of_a_folder_that_is_no_run_says_so(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "is not a finished run" in capsys.readouterr().err


def test_the_sweep_plan_puts_each_seed_of_the_contested_steps_first(capsys):
    assert main(["sweep", "--seeds", "0-1", "--plan"]) == 0
    runs, skipped = capsys.readouterr().out.splitlines()
    plan = runs.split()
    assert plan[:4] == ["cnn_reg@0", "cnn_bn@0", "cnn_bn_aug@0", "cnn_bn_aug_long@0"] and len(plan) == 12
    assert skipped == f"to train: 0 of 12; finished already: {runs}"  # the committed seeds: a sweep skips them


def test_an_ensemble_row_uses_every_seed_and_compares_with_the_best_run(tmp_path):
    from mnist_lab.findings.seed_results import ensemble_line, ensemble_rows
    from mnist_lab.runs.layout import all_stage_seeds

    labels = np.arange(10_000) % 10
    rng = np.random.default_rng(0)
    for seed in (42, 0, 1, 2, 3):
        probabilities = np.full((10_000, 10), 0.01)
        probabilities[np.arange(10_000), labels] = 0.5
        wrong = rng.choice(10_000, 100, replace=False)  # each seed errs on its own 100 digits
        probabilities[wrong, (labels[wrong] + 1) % 10] = 0.9
        fake_run(
            seed_run_dir(tmp_path, "dnn", seed),
            "dnn",
            0.99,
            0,
            wrong=wrong.tolist(),
            probabilities=probabilities,
            seed=seed,
        )
    rows = ensemble_rows(all_stage_seeds(tmp_path), labels, min_seeds=5)
    row = rows["dnn"]
    assert row["members"] == 5 and row["errors"] < 100  # averaging outvotes most single-seed mistakes
    assert row["fixed"] - row["new"] == 100 - row["errors"]
    assert [p["members"] for p in row["curve"]] == [1, 2, 3, 4, 5] and row["curve"][0]["subsets"] == 5
    assert "Ensemble of all 5 `dnn` seeds" in ensemble_line("dnn", row)
    assert ensemble_rows(all_stage_seeds(tmp_path), labels, min_seeds=6) == {}


def test_a_mean_below_its_target_is_reported_with_the_kept_epochs(tmp_path, monkeypatch):
    from mnist_lab.findings import seed_results
    from mnist_lab.findings.seed_results import MEAN_TARGETS, seed_rows, seed_table, target_lines
    from mnist_lab.runs.layout import all_stage_seeds

    target = MEAN_TARGETS["cnn_bn_aug"]

    def history(train_accuracy):  # epoch 2 is the kept one; the rate is lowered after it
        return [
            {"epoch": 1, "accuracy": 0.98, "val_accuracy": 0.985, "learning_rate": 1e-3},
            {"epoch": 2, "accuracy": train_accuracy, "val_accuracy": 0.993, "learning_rate": 1e-3},
            {"epoch": 3, "accuracy": 0.995, "val_accuracy": 0.990, "learning_rate": 5e-4},
        ]

    fake_run(tmp_path / "cnn_bn_aug", "cnn_bn_aug", target - 0.0005, 45, history=history(0.991))
    fake_run(seed_run_dir(tmp_path, "cnn_bn_aug", 0), "cnn_bn_aug", target - 0.0003, 43, seed=0, history=history(0.995))
    fake_run(tmp_path / "cnn_bn", "cnn_bn", MEAN_TARGETS["cnn_bn"] + 0.001, 40)
    one_seed = seed_table(seed_rows(all_stage_seeds(tmp_path)))
    assert "| `cnn_bn` | 1 | 99.600% (one seed) | — |" in one_seed and "not judged on 1 of 5 seeds" in one_seed
    fake_run(seed_run_dir(tmp_path, "cnn_bn", 0), "cnn_bn", MEAN_TARGETS["cnn_bn"] + 0.002, 30, seed=0)
    rows = seed_rows(all_stage_seeds(tmp_path))
    assert "not judged on 2 of 5 seeds" in seed_table(rows) and target_lines(rows) == []
    monkeypatch.setattr(seed_results, "TARGET_MIN_SEEDS", 2)  # the judging below, on two seeds
    assert "met" in seed_table({"cnn_bn": rows["cnn_bn"]}) and "**below**" in seed_table(rows)
    (line,) = target_lines(rows)  # cnn_bn meets its target: no line
    assert line.startswith("- `cnn_bn_aug`: the mean of 2 seeds")
    assert "kept (best on validation) of its 20-epoch budget: 2 (seed 0), 2 (seed 42)." in line
    assert "last two epochs" not in line  # fake runs keep epoch 2 of 20
    assert "training accuracy was below validation accuracy in 1 of 2 seeds" in line
    assert line.endswith("lowered in the run: 1 (seed 0), 1 (seed 42).")


def test_a_quick_sweep_is_not_held_to_the_targets(tmp_path):
    from mnist_lab.findings.seed_results import seed_rows, target_lines
    from mnist_lab.runs.layout import all_stage_seeds

    for seed in (42, 0):
        fake_run(seed_run_dir(tmp_path, "cnn", seed), "cnn", 0.5, 500, seed=seed, **PROFILES["quick"])
    rows = seed_rows(all_stage_seeds(tmp_path, "quick"))
    assert rows["cnn"].target is None and target_lines(rows) == []


def test_a_stage_gets_a_verdict_against_each_stage_it_is_also_held_against(monkeypatch):
    import dataclasses

    from mnist_lab.core import models
    from mnist_lab.findings.seed_results import step_verdicts

    row = SimpleNamespace(accuracies=[0.99, 0.991, 0.992])  # all step_verdicts reads of a SeedRow
    rows = {stage: row for stage in ("cnn_reg", "cnn_bn", "cnn_bn_aug")}
    pairs = [(step["before"], step["after"]) for step in step_verdicts(rows)]
    assert pairs == [("cnn_reg", "cnn_bn"), ("cnn_bn", "cnn_bn_aug")]  # neighbours only
    stage = dataclasses.replace(models.STAGES["cnn_bn_aug"], also_against=("cnn_reg", "dnn"))
    monkeypatch.setitem(models.STAGES, "cnn_bn_aug", stage)
    pairs = [(step["before"], step["after"]) for step in step_verdicts(rows)]
    assert pairs == [("cnn_reg", "cnn_bn"), ("cnn_bn", "cnn_bn_aug"), ("cnn_reg", "cnn_bn_aug")]  # dnn: no seeds


def test_an_ablation_sweep_trains_its_own_protocol_into_its_own_folder(tmp_path):
    (run,) = run_sweep(["dnn"], [0], "quick", tmp_path, ablation="constant_lr", verbose=0)
    assert run.path == tmp_path / "ablation" / "constant_lr" / "dnn" / "seed_0"
    assert run.config["lr_schedule"] == "constant"
    assert [r["learning_rate"] for r in run.history] == pytest.approx([run.config["learning_rate"]] * len(run.history))
    assert [r.seed for r in stage_seeds(tmp_path, "dnn", "quick", ablation="constant_lr")] == [0]
    assert stage_seeds(tmp_path, "dnn", "quick") == []  # never mixed into the stage's seeds
    assert 0 <= run.metrics["last_epoch_test_errors"] <= 10_000  # restoring's effect is recorded
    with pytest.raises(ConfigError, match="unknown ablation"):
        run_sweep(["dnn"], [0], "quick", tmp_path, ablation="no_such")


def test_every_stage_shares_its_profile_test_digits():
    from mnist_lab.core.models import STAGES
    from mnist_lab.findings.seed_results import test_labels
    from mnist_lab.runs.settings import PROFILES, resolve_config

    for profile in PROFILES:  # what test_labels(profile) assumes when it resolves one stage
        assert len({resolve_config(stage, profile).test_subset for stage in STAGES}) == 1
    assert len(test_labels("quick")) == PROFILES["quick"]["test_subset"] and len(test_labels("full")) == 10_000

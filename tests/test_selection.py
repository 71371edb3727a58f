"""Choosing the longer budget on the validation split: the rule, the rows, and a run that never sees the test set."""

from types import SimpleNamespace

import pytest
from conftest import without_timings

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.files import write_json
from mnist_lab.core.run_dir import load_run
from mnist_lab.core.train import run_stage
from mnist_lab.findings.selection import choose, chosen_stage, selection_rows, setting_protocol, unfinished
from mnist_lab.runs.layout import BASELINE, candidate_runs
from mnist_lab.runs.settings import CANDIDATES, PROFILES, candidate_config


def row(setting, errors, cross_entropy, budget):
    return {
        "setting": setting,
        "validation errors": errors,
        "validation cross-entropy": cross_entropy,
        "budget": budget,
    }


def test_the_rule_prefers_fewer_errors_then_lower_cross_entropy_then_a_shorter_budget():
    assert choose([row("a", 20, 0.01, 30), row("b", 19, 0.05, 50)])["setting"] == "b"
    assert choose([row("a", 19, 0.02, 30), row("b", 19, 0.01, 50)])["setting"] == "b"
    assert choose([row("a", 19, 0.01, 50), row("b", 19, 0.01, 30)])["setting"] == "b"
    assert choose([row("old", 19, None, 20), row("new", 19, 0.5, 50)])["setting"] == "new"
    with pytest.raises(ConfigError, match="no finished candidates"):
        choose([])


def test_quick_profile_candidates_keep_their_schedule_but_train_briefly():
    config = candidate_config("exponential_50", "quick")
    assert config.stage == "cnn_bn_aug"
    assert {key: getattr(config, key) for key in PROFILES["quick"]} == PROFILES["quick"]
    assert (config.lr_schedule, config.lr_decay, config.monitor) == ("exponential", 0.95, "val_cross_entropy")
    assert candidate_config("plateau_ce_50").epochs == 50
    with pytest.raises(ConfigError, match="unknown candidate 'sgd'"):
        candidate_config("sgd")


def test_a_shorter_budget_row_is_the_prefix_of_the_run_it_comes_from():
    fields = setting_protocol("exponential_50@30")
    assert fields["epochs"] == 30 and fields["early_stopping_patience"] == 30
    assert fields["lr_schedule"] == "exponential"
    assert setting_protocol(BASELINE) == {}


def test_an_exponential_runs_first_epochs_are_the_shorter_budgets_run(tmp_path):
    """What SHORTER_BUDGETS relies on: the rate at an epoch does not depend on the budget, and a run
    that never stops early draws the same batches, so its first N epochs are the N-epoch run's."""
    fields = dict(stage="cnn_bn_aug", subset=300, lr_schedule="exponential", lr_decay=0.9, monitor="val_cross_entropy")
    runs = [
        run_stage(
            TrainConfig(**fields, epochs=n, early_stopping_patience=n),
            tmp_path / str(n),
            verbose=0,
            keep_model=False,
            evaluate_test=False,
        )
        for n in (2, 3)
    ]
    shorter, longer = (without_timings(run.history) for run in runs)
    assert longer[:2] == shorter and len(longer) == 3


def history(val_cross_entropy, val_accuracy):
    return [
        {"epoch": e + 1, "val_loss": 1.0, "val_cross_entropy": ce, "val_accuracy": acc, "seconds": 60.0}
        for e, (ce, acc) in enumerate(zip(val_cross_entropy, val_accuracy, strict=True))
    ]


def fake_candidate(root, name, records, **config):
    path = root / "selection" / name
    path.mkdir(parents=True)
    write_json(path / "config.json", {**candidate_config(name).to_dict(), **config})
    write_json(path / "history.json", records)
    # What every finished run's metrics hold at the least (run_dir.REQUIRED_KEYS).
    write_json(path / "metrics.json", {"data": {"validation": 6000}, "epochs_run": len(records), "best_epoch": 1})
    return path


def test_rows_keep_the_monitored_epoch_and_read_every_budget(tmp_path):
    # 50 epochs: cross-entropy best at epoch 25 (of the first 30) and at epoch 45 overall.
    ce = [0.05] * 50
    ce[24], ce[44] = 0.03, 0.02
    accuracy = [0.995] * 50
    accuracy[24], accuracy[44] = 0.996, 0.997
    fake_candidate(tmp_path, "exponential_50", history(ce, accuracy))
    rows = {r["setting"]: r for r in selection_rows(candidate_runs(tmp_path))}
    assert set(rows) == {"exponential_50", "exponential_50@30", "exponential_50@40"}
    assert (rows["exponential_50"]["kept epoch"], rows["exponential_50"]["validation errors"]) == (45, 18)
    assert (rows["exponential_50@30"]["kept epoch"], rows["exponential_50@30"]["validation errors"]) == (25, 24)
    assert rows["exponential_50@30"]["minutes"] == 30 and rows["exponential_50@40"]["budget"] == 40
    assert choose(list(rows.values()))["setting"] == "exponential_50"


def test_a_candidate_under_another_protocol_is_left_out(tmp_path):
    fake_candidate(tmp_path, "plateau_ce_50", history([0.1], [0.9]), epochs=3)
    assert candidate_runs(tmp_path) == {}


def test_a_validation_only_run_never_touches_the_test_set(tmp_path):
    config = TrainConfig(stage="dnn", subset=300, epochs=1)
    out = tmp_path / "run"
    run = run_stage(config, out, verbose=0, keep_model=False, evaluate_test=False)
    assert not any(key.startswith("test_") for key in run.metrics) and "misclassified" not in run.metrics
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "history.json", "metrics.json"]
    assert run.metrics["best_val_accuracy"] > 0 and run.metrics["best_val_cross_entropy"] > 0
    # The same config asked with the test set trains again rather than reusing it.
    full = run_stage(config, out, verbose=0, keep_model=False)
    assert "test_accuracy" in full.metrics and load_run(out).metrics == full.metrics


def test_every_candidate_is_a_valid_protocol():
    for name in CANDIDATES:
        assert candidate_config(name).stage == "cnn_bn_aug"


def test_the_record_states_the_rule_and_marks_the_choice(tmp_path):
    from mnist_lab.findings.selection import SELECTION_RULE, selection_markdown

    fake_candidate(tmp_path, "exponential_50", history([0.03] * 50, [0.996] * 50))
    fake_candidate(tmp_path, "plateau_ce_50", history([0.02] * 12, [0.9965] * 12))
    text = "\n".join(selection_markdown(selection_rows(candidate_runs(tmp_path))))
    assert SELECTION_RULE in text and "Chosen: **`plateau_ce_50`**, with 21 validation errors" in text
    assert "| **`plateau_ce_50`** | plateau | val_cross_entropy | 50 | 12 | 1 | 21 |" in text
    assert "No candidate has finished" in selection_markdown([])[0]


def test_the_record_says_whether_the_choice_is_final_and_what_follows(tmp_path):
    from mnist_lab.findings.selection import selection_markdown, unfinished

    fake_candidate(tmp_path, "plateau_ce_50", history([0.02] * 12, [0.9965] * 12))
    runs = candidate_runs(tmp_path)
    assert unfinished(runs) == ["exponential_50"]
    text = "\n".join(selection_markdown(selection_rows(runs), unfinished(runs)))
    assert "Chosen so far: **`plateau_ce_50`**" in text and "Not finished yet: `exponential_50`" in text
    # Everything finished and the seed protocol's own run wins: no stage is added.
    baseline = {**row(BASELINE, 20, None, 20), "validation errors": 20}
    rows = [baseline, {**row("plateau_ce_50", 21, 0.01, 50)}]
    rows = [
        {
            **r,
            "schedule": "plateau",
            "monitor": "val_loss",
            "epochs run": 20,
            "kept epoch": 19,
            "validation accuracy": 0.996,
            "minutes": 60.0,
        }
        for r in rows
    ]
    assert "no stage is added" in selection_markdown(rows)[-1]
    assert "becomes a stage of its own" in selection_markdown(rows[1:])[-1]


def test_select_checks_its_profile_before_training(capsys):
    from mnist_lab.report.cli import main

    assert main(["select", "--profile", "fast"]) == 2
    assert "unknown profile 'fast'" in capsys.readouterr().err


def test_select_status_reports_what_has_finished_without_training(tmp_path, monkeypatch, capsys):
    from mnist_lab.report import cli
    from mnist_lab.report.cli import main

    monkeypatch.setattr(cli, "reports_root", lambda profile: tmp_path)
    fake_candidate(tmp_path, "plateau_ce_50", history([0.02] * 12, [0.9965] * 12))
    assert main(["select", "--status"]) == 0
    out = capsys.readouterr().out
    assert "plateau_ce_50        kept epoch  1 of 12: 21 validation errors" in out
    assert "not finished: exponential_50" in out and "chosen so far: plateau_ce_50" in out
    assert not (tmp_path / "selection" / "exponential_50").exists()  # nothing trained
    assert "in progress" not in out


def test_select_status_reads_the_epochs_a_candidate_in_progress_has_run(tmp_path, monkeypatch, capsys):
    import json

    import numpy as np

    from mnist_lab.report import cli
    from mnist_lab.report.cli import main

    monkeypatch.setattr(cli, "reports_root", lambda profile: tmp_path)
    fake_candidate(tmp_path, "plateau_ce_50", history([0.02] * 12, [0.9965] * 12))
    accuracy = [0.99] * 35
    accuracy[27] = 0.995  # epoch 28, also the lowest cross-entropy below
    ce = [0.05] * 35
    ce[27] = 0.01
    partial = tmp_path / "selection" / "exponential_50" / ".partial"
    partial.mkdir(parents=True)
    state = {"config": candidate_config("exponential_50").to_dict(), "history": history(ce, accuracy)}
    np.savez(partial / "checkpoint.npz", state=np.array(json.dumps(state)), model_0=np.zeros(3))
    assert main(["select", "--status"]) == 0
    out = capsys.readouterr().out
    assert "in progress: exponential_50, 35 of 50 epochs run; exponential_50@30 has run all its epochs: " in out
    assert "kept epoch 28, validation accuracy 99.50%" in out and "@40" not in out
    assert "chosen so far: plateau_ce_50" in out  # a candidate in progress is not in the choice


def fake_baseline(root, val_accuracy):
    from mnist_lab.runs.settings import resolve_config

    path = root / "cnn_bn_aug"
    path.mkdir(parents=True)
    write_json(path / "config.json", resolve_config("cnn_bn_aug", "full").to_dict())
    write_json(path / "history.json", history([0.02] * len(val_accuracy), val_accuracy))
    write_json(path / "metrics.json", {"data": {"validation": 6000}, "epochs_run": len(val_accuracy), "best_epoch": 1})


def test_the_answer_judges_the_chosen_stage_against_the_targets_once_the_selection_is_final(tmp_path):
    from mnist_lab.report.results import selection_lines

    seeds = {"cnn_bn_aug": SimpleNamespace(n=5, mean=0.99526)}  # the fields of a SeedRow it reads
    ensembles = {"cnn_bn_aug": {"accuracy": 0.9976}}
    assert selection_lines(tmp_path, "full", seeds, ensembles) == []
    fake_baseline(tmp_path, [0.996] * 20)  # 24 validation errors
    fake_candidate(tmp_path, "plateau_ce_50", history([0.02] * 12, [0.9955] * 12))
    (line,) = selection_lines(tmp_path, "full", seeds, ensembles)
    assert "has so far chosen the seed protocol (24 validation errors" in line
    assert "not finished: `exponential_50`" in line and "target" not in line
    fake_candidate(tmp_path, "exponential_50", history([0.03] * 50, [0.995] * 50))
    (line,) = selection_lines(tmp_path, "full", seeds, ensembles)
    assert "the rule chose the seed protocol" in line and "`cnn_bn_aug` stands as trained" in line
    assert "the mean of its 5 seeds, 99.526%, is **below** 99.65%" in line
    assert "the ensemble of all of them, 99.760%, **reaches** 99.75%" in line
    # Fewer seeds than an ensemble needs: no verdict on the targets yet.
    (line,) = selection_lines(tmp_path, "full", {"cnn_bn_aug": SimpleNamespace(n=3)}, {})
    assert line.endswith("3 of its 5 seeds have run.")


def test_a_chosen_candidate_without_a_stage_is_said_to_be_one_still_to_add(tmp_path):
    from mnist_lab.report.results import selection_lines

    fake_baseline(tmp_path, [0.995] * 20)
    fake_candidate(tmp_path, "plateau_ce_50", history([0.02] * 12, [0.9965] * 12))
    fake_candidate(tmp_path, "exponential_50", history([0.03] * 50, [0.995] * 50))
    (line,) = selection_lines(tmp_path, "full", {}, {})
    assert "the rule chose `plateau_ce_50` (21 validation errors" in line
    assert line.endswith("it is not a stage of the ladder yet.")


def test_the_ladder_trains_the_setting_the_committed_selection_chose():
    """models.py writes the chosen protocol out by hand: it must be the rule's choice from the runs."""
    from mnist_lab.runs.settings import reports_root

    runs = candidate_runs(reports_root("full"))
    if not runs or unfinished(runs):
        pytest.skip("the selection has not finished (make select)")
    assert chosen_stage(choose(selection_rows(runs))["setting"]) == "cnn_bn_aug_long"

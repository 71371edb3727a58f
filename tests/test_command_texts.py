"""Issue 60's small ones: what the commands and make print, each checked from the command line's
side (no training: fake runs, `make -n`, the parsers)."""

import subprocess

import pytest
from conftest import fake_run

from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.run_dir import load_run
from mnist_lab.findings import verify
from mnist_lab.report import cli
from mnist_lab.runs.layout import seed_run_dir


def test_an_unknown_option_shows_its_commands_usage_and_the_nearest_option(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--stage", "dnn", "--epocs", "1"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mnist-lab train ") and "(did you mean --epochs?)" in err


def test_make_seeds_passes_the_profile():
    def dry_run(*extra):
        done = subprocess.run(
            ["make", "-n", "--no-print-directory", "-C", str(PROJECT_ROOT), "seeds", *extra],
            capture_output=True,
            text=True,
        )
        return done.stdout.strip().splitlines()[-1]

    assert dry_run("PROFILE=quick", "SEEDS=2-3").endswith("--seeds 2-3 --jobs 1 --profile quick")
    assert dry_run().endswith("--profile full")


def test_the_help_says_what_it_means():
    commands = cli.build_parser().commands
    train = commands["train"].format_help()
    assert "--out DIR" in train and "the run folder DIR" in train  # the DIR --retrain speaks of is defined
    parser_help = cli.build_parser().format_help()
    assert "one or more notebooks" in parser_help
    assert "reports-quick/seeds/" in parser_help  # where a quick sweep's runs go


def test_a_one_line_error_keeps_the_options_dashes(capsys):
    assert cli.main(["sweep", "--stage", "dnn", "--seeds", "0", "--address", "auto"]) == 2
    assert "--address and --runs-per-gpu are for the Ray engine: add --engine ray" in capsys.readouterr().err


def test_the_command_line_page_lists_every_command():
    page = (PROJECT_ROOT / "docs" / "cli.md").read_text()
    missing = [name for name in cli.build_parser().commands if f"mnist-lab {name}" not in page]
    assert not missing, f"docs/cli.md does not list: {missing}"


@pytest.fixture
def band(tmp_path, monkeypatch):
    """dnn with five committed seeds (42, 0-3) around 98.00%, in a reports folder of the test's own."""
    for seed, accuracy in zip((42, 0, 1, 2, 3), (0.9800, 0.9795, 0.9805, 0.9802, 0.9798), strict=True):
        fake_run(seed_run_dir(tmp_path, "dnn", seed), "dnn", accuracy, round(10_000 * (1 - accuracy)), seed=seed)
    monkeypatch.setattr(cli, "reports_root", lambda profile: tmp_path)
    return tmp_path


def test_the_trains_last_line_says_in_percent_and_plain_words_where_the_run_lies(band, tmp_path):
    mine = load_run(fake_run(tmp_path / "mine", "dnn", 0.9801, 199, seed=7))
    line = cli.plain_verdict(mine, verify.check_run(mine, band))
    assert line.startswith("in plain words: this run's 98.01% is within the usual spread of the 5 committed dnn runs")
    assert "(they range from 97.95% to 98.05%)" in line and "seed 7" not in line  # seed 7 is not one of them
    far = load_run(fake_run(tmp_path / "far", "dnn", 0.9700, 300, seed=8))
    assert "is outside the usual spread" in cli.plain_verdict(far, verify.check_run(far, band))


def test_the_trains_last_line_says_when_its_seed_is_in_the_band_and_whether_it_matched(band, tmp_path):
    committed = load_run(seed_run_dir(band, "dnn", 2))
    twin = load_run(fake_run(tmp_path / "twin", "dnn", 0.9802, 198, seed=2))  # the same digits wrong, same loss
    line = cli.plain_verdict(twin, verify.check_run(twin, band))
    assert f"seed 2 is one of them ({committed.path}), and this run matched it exactly" in line
    other = load_run(fake_run(tmp_path / "other", "dnn", 0.9802, 198, wrong=list(range(1, 199)), seed=2))
    assert "did not match it exactly (98.02% there)" in cli.plain_verdict(other, verify.check_run(other, band))


def test_no_plain_line_for_a_run_that_cannot_be_compared(band, tmp_path):
    tweak = load_run(fake_run(tmp_path / "tweak", "dnn", 0.95, 500, seed=2, epochs=1))
    assert cli.plain_verdict(tweak, verify.check_run(tweak, band)) is None

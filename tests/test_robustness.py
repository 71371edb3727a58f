"""The robustness suite: each corruption on known inputs, the suite's images pinned, and a run
storing its results (mnist_lab.core.corruptions, mnist_lab.core.robustness)."""

import json

import numpy as np
import pytest
from suite_hashes import HASHES_PATH, library_versions, suite_hashes

from mnist_lab.core import corruptions, robustness
from mnist_lab.findings.robustness_results import curves, readme_lines, stage_results, summary_rows
from mnist_lab.report.cli import main


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.fixture
def blob():
    """A bright 6x6 square at the centre of a black image."""
    image = np.zeros((28, 28))
    image[11:17, 11:17] = 1.0
    return image


@pytest.mark.parametrize("name", corruptions.CORRUPTIONS)
def test_every_corruption_is_an_image_in_range_and_repeatable(name, mnist):
    function = corruptions.CORRUPTIONS[name]
    digit = mnist[1][0][0] / 255.0
    out = function(digit, rng(3))
    assert out.shape == (28, 28) and 0 <= out.min() and out.max() <= 1
    assert np.array_equal(out, function(digit, rng(3)))  # the seed fixes it
    assert not np.allclose(out, digit)  # every corruption changes a digit


def test_stripe_inverts_the_outer_columns(blob):
    out = corruptions.stripe(blob, rng())
    assert (out[:, :7] == 1).all() and (out[:, 21:] == 1).all() and np.array_equal(out[:, 7:21], blob[:, 7:21])


def test_brightness_adds_half_to_every_pixel(blob):
    assert np.allclose(corruptions.brightness(blob, rng()), np.clip(blob + 0.5, 0, 1))


def test_translate_moves_a_pixel_three_in_each_axis():
    image = np.zeros((28, 28))
    image[10, 10] = 1.0
    rows, columns = np.nonzero(corruptions.translate(image, rng()) > 0.5)
    assert abs(rows[0] - 10) == 3 and abs(columns[0] - 10) == 3


def test_scale_shrinks_and_the_warps_keep_the_centre(blob):
    assert corruptions.scale(blob, rng()).sum() == pytest.approx(blob.sum() * 0.7**2, rel=0.15)
    centre = np.zeros((28, 28))
    centre[13:15, 13:15] = 1.0  # the 2x2 block around the centre (13.5, 13.5)
    for function in (corruptions.rotate, corruptions.shear):
        assert function(centre, rng()).sum() == pytest.approx(centre.sum(), rel=0.2)
        assert function(centre, rng())[13:15, 13:15].min() > 0.4


def test_noise_leaves_black_black_where_it_should():
    black = np.zeros((28, 28))
    assert corruptions.shot_noise(black, rng()).max() == 0  # Poisson of zero photons
    assert corruptions.canny_edges(black, rng()).max() == 0
    assert 0.06 < (corruptions.impulse_noise(black, rng()) == 1).mean() < 0.11  # half of the 17% are salt


def test_lines_are_drawn_on_a_blank_image():
    black = np.zeros((28, 28))
    assert corruptions.dotted_line(black, rng()).max() > 0.9 and corruptions.zigzag(black, rng()).max() > 0.9
    dotted = corruptions.dotted_line(black, rng())
    assert dotted[:, 0:2].max() == 0 and dotted[:, 4:6].max() == 0  # every other pair of columns left out


def test_sweeps_at_their_neutral_size_change_nothing(blob):
    assert np.allclose(corruptions.rotated(blob, rng(), degrees=0), blob)
    assert np.allclose(corruptions.shifted(blob, rng(), pixels=0), blob)
    assert np.allclose(corruptions.zoomed(blob, rng(), factor=1.0), blob)


def test_an_image_of_a_set_does_not_depend_on_the_others(mnist):
    (_, _), (images, _) = mnist
    suite_set = next(s for s in robustness.suite_sets() if s.name == "glass_blur")
    assert np.array_equal(
        robustness.build_images(suite_set, images, np.array([3, 7])),
        robustness.build_images(suite_set, images, np.arange(8))[[3, 7]],
    )


@pytest.mark.parametrize("group", ["corruption", "sweep"])
def test_each_subset_is_stratified_and_fixed(mnist, group):
    labels = mnist[1][1]
    chosen, size = robustness.stratified_indices(labels, group), robustness.SIZES[group]
    assert len(chosen) == size and np.array_equal(chosen, robustness.stratified_indices(labels, group))
    share = np.bincount(labels) * size / len(labels)  # each class in its test-set proportion
    assert np.abs(np.bincount(labels[chosen]) - share).max() <= 1


def test_the_suite_images_are_what_they_were():
    pinned = json.loads(HASHES_PATH.read_text())
    got = suite_hashes()
    changed = sorted(name for name in pinned["sets"] if got["sets"].get(name) != pinned["sets"][name])
    added = sorted(set(got["sets"]) - set(pinned["sets"]))
    libraries = (
        ""
        if library_versions() == pinned["libraries"]
        else f" (libraries now {library_versions()}, pinned {pinned['libraries']})"
    )
    assert got["suite_version"] == pinned["suite_version"] and not changed and not added, (
        f"the robustness suite's images changed ({changed + added}){libraries}: bump "
        "mnist_lab.core.robustness.SUITE_VERSION (every run's results are then re-evaluated) and run "
        "`python tests/suite_hashes.py --write`, or undo the change"
    )


def test_a_tiny_train_run_stores_its_robustness_results(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--stage", "dnn", "--epochs", "1", "--subset", "300", "--out", str(out)]) == 0
    results = robustness.read_results(out)
    assert results["suite_version"] == robustness.SUITE_VERSION and results["small"] is True
    assert set(results["sets"]) == {s.name for s in robustness.suite_sets()}
    predictions = robustness.read_predictions(out)
    for name, row in results["sets"].items():
        assert (
            len(predictions[name])
            == row["images"]
            == robustness.SMALL_SIZES["corruption" if row["kind"] == "corruption" else "sweep"]
        )
        assert 0 <= row["errors"] <= row["images"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["robustness_seconds"] == pytest.approx(results["seconds"])

    # mnist-lab robustness: kept at this suite version, evaluated again with --force, same answers
    capsys.readouterr()
    assert main(["robustness", str(out)]) == 0 and "already evaluated" in capsys.readouterr().out
    assert main(["robustness", str(out), "--force"]) == 0 and "evaluated in" in capsys.readouterr().out
    assert robustness.read_results(out)["sets"] == results["sets"]

    (out / "model.keras").unlink()
    (out / "robustness.json").unlink()
    assert main(["robustness", str(out)]) == 2
    assert "has no model.keras" in capsys.readouterr().err


def test_the_report_reads_stored_results(tmp_path):
    from conftest import fake_run

    run = fake_run(tmp_path / "dnn", "dnn", 0.98, 200)
    sets = {
        s.name: {"kind": s.kind, "level": s.level, "images": 10, "errors": 1, "accuracy": 0.9}
        for s in robustness.suite_sets()
    }
    stored = {"suite_version": robustness.SUITE_VERSION, "small": False, "sets": sets, "mean_corruption_accuracy": 0.9}
    (run / "robustness.json").write_text(json.dumps(stored))
    rows = summary_rows(stage_results(tmp_path, "full"))
    assert rows["dnn"]["n"] == 1 and rows["dnn"]["mean_corruption"] == 0.9 and rows["dnn"]["clean"] == 0.98
    lead = readme_lines(tmp_path, "full")[0]  # says what each figure counts: the clean and the corrupted digits
    assert "10,000 test digits" in lead and f"stratified {robustness.SIZES['corruption']:,} of them" in lead
    rotation = curves(rows)["rotation"]["dnn"]
    assert rotation[0] == (0, 0.9) and [level for level, _ in rotation] == [0, *robustness.ROTATIONS]
    (run / "robustness.json").write_text(json.dumps({**stored, "suite_version": 0}))
    assert stage_results(tmp_path, "full") == {}  # another suite version's results are not these


def test_a_two_seed_interval_stays_within_what_an_accuracy_can_be():
    from mnist_lab.findings.robustness_results import summary_line

    row = {"n": 2, "low": 0.2166, "high": 1.2331, "clean": 0.9948, "mean_corruption": 0.7248}
    assert summary_line("cnn_bn_aug", row).endswith("(mean of 2 seeds; 95% interval 21.66-100.00%)")

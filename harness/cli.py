"""The `smd` command line: describe a motion file as text, or plot what the description sees.

    smd describe [MOTION.npy] [--fps F] [--up-axis y|z] [--variant NAME | --all-variants]
    smd plot [MOTION.npy] -o OUT.png|DIR/ [--fps F] [--up-axis y|z] [--variant NAME] [--top N]
    smd readback MOTION.npy... [--fps F] [--up-axis y|z] [--variant NAME]

MOTION.npy holds joint positions (T, 22, 3) in metres, HumanML3D / SMPL joint order. Without a
file, `describe` and `plot` show a built-in synthetic demo motion (stand, walk four steps, wave).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

import smd
from harness.core import OUTPUT_OPTION, VARIANT_OPTION, add_renamed_option

EXIT_ERROR = 2
# Commands dvc.yaml runs, not a user: callable, left out of `smd --help`.
INTERNAL_COMMANDS = ("stage",)


class _Failure(Exception):
    """A user-facing error about one input: printed as `error: <path>: <message>`, exit 2."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _variant_name(value: str) -> str:
    if value not in smd.PRESETS:
        raise argparse.ArgumentTypeError(f"unknown variant {value!r} (one of {', '.join(smd.PRESETS)})")
    return value


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not (np.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value!r}")
    return x


def _fps(value: str) -> float:
    from smd.canonical import MAX_FPS, MIN_FPS

    x = _positive_float(value)
    if not MIN_FPS <= x <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"must be a frame rate in [{MIN_FPS:g}, {MAX_FPS:g}], got {value!r}")
    return x


def _top_k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if not 1 <= k <= len(smd.ANGLES):
        raise argparse.ArgumentTypeError(f"must be in 1..{len(smd.ANGLES)}, got {k}")
    return k


def _add_motion_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=_fps, default=20.0, help="frame rate of the motion (default: 20; 1-1000)")
    p.add_argument(
        "--up-axis",
        choices=("y", "z"),
        default="y",
        help="vertical axis: y (HumanML3D, default) or z (BABEL-QA)",
    )


def _add_variant_option(p: argparse.ArgumentParser, help: str) -> None:
    add_renamed_option(p, VARIANT_OPTION, old=("--preset",), type=_variant_name, default="v5", help=help)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smd-bench")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed: pip install .)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smd", description="Structured Motion Descriptions of joint-position motions (T, 22, 3)."
    )
    parser.add_argument("--version", action="version", version=f"smd {_package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    presets = ", ".join(smd.PRESETS)

    d = sub.add_parser(
        "describe", help="print the SMD text of a motion", description="Print the SMD text of a motion."
    )
    d.add_argument(
        "motion",
        nargs="?",
        metavar="MOTION.npy",
        help="joints (T, 22, 3); omitted: a built-in synthetic demo motion",
    )
    _add_motion_options(d)
    which = d.add_mutually_exclusive_group()
    _add_variant_option(which, help=f"SMD variant (default: v5; one of {presets})")
    which.add_argument("--all-variants", action="store_true", help="print every variant, each under a header")
    d.set_defaults(func=_cmd_describe)

    p = sub.add_parser(
        "plot",
        help="plot angle curves, their segments and the trajectory",
        description="Plot the most active angle curves with their detected segments, and the trajectory.",
    )
    p.add_argument(
        "motion", nargs="?", metavar="MOTION.npy", help="joints (T, 22, 3); omitted: the built-in demo motion"
    )
    p.add_argument(
        *OUTPUT_OPTION,
        required=True,
        metavar="OUT.png|DIR/",
        help="image to write (its extension names the format), or a folder: DIR/<motion>.png",
    )
    _add_motion_options(p)
    _add_variant_option(p, help=f"SMD variant whose delta is used (default: v5; {presets})")
    p.add_argument(
        "--top", type=_top_k, default=6, metavar="N", help="plot the N most active angles (default: 6)"
    )
    p.set_defaults(func=_cmd_plot)

    r = sub.add_parser(
        "readback",
        help="read the SMD text back into angle curves and report how far they lie from the measured ones",
        description=(
            "Render each motion, parse the text alone back into curves (holds constant, ramps linear, cycles "
            "a triangle wave with their period) and print, per angle, the mean absolute error against the "
            "measured angles, with the text's length."
        ),
    )
    r.add_argument("motion", nargs="+", metavar="MOTION.npy", help="joints (T, 22, 3)")
    _add_motion_options(r)
    _add_variant_option(r, help=f"SMD variant (default: v5; one of {presets})")
    r.set_defaults(func=_cmd_readback)

    # pipeline stages: each module owns its arguments (`smd STAGE --help`)
    for name, (module, text) in STAGES.items():
        # an internal command gets no `help`: argparse lists only the subparsers given one (this Python
        # prints `help=argparse.SUPPRESS` as "==SUPPRESS==")
        shown = {} if name in INTERNAL_COMMANDS else {"help": text}
        s = sub.add_parser(name, add_help=False, **shown)
        s.add_argument("stage_args", nargs=argparse.REMAINDER)
        s.set_defaults(func=_stage(module, name))
    parser.subcommands = sub.choices  # `main` reports a subcommand's bad arguments with its own usage
    return parser


STAGES = {
    "make-demo": (
        "harness.demo.generate",
        "generate the synthetic demo benchmark (BABEL-QA + HumanML3D layouts)",
    ),
    "build-smd": ("harness.data.build_smd", "build the SMD files of a dataset for every variant"),
    "make-options": ("harness.data.qa_options", "write the 10-option QA files of a QA dataset"),
    "make-docs": ("harness.data.prompt_docs", "write the prompt docs (JSONL) of a dataset for one variant"),
    "score-captions": ("harness.metrics.score_cli", "score generated captions (BLEU, ROUGE-L, CIDEr, ...)"),
    "train": ("harness.train.main", "LoRA fine-tuning of a backbone on prompt docs (QA or captions)"),
    "tiny-backbone": ("harness.models.tiny", "build the tiny Llama backbone from prompt docs"),
    "convert-gguf": ("harness.models.gguf", "smollm2-135m from its pip wheel's GGUF, as a HF folder"),
    "evaluate": (
        "harness.evaluate.main",
        "score a backbone (+ adapter) on one lm-eval task: one results cell",
    ),
    "stage": ("harness.pipeline", "one dvc.yaml stage cell (train / evaluate), paths from params.yaml"),
    "table": (
        "harness.results.table",
        "Markdown tables (and a figure) of the results and the paper's numbers",
    ),
    "check": ("harness.results.check", "fail on a regression: results vs baselines, or vs committed results"),
    "compare": (
        "harness.results.compare",
        "paired bootstrap CI and McNemar test of two cells on the same docs",
    ),
    "attention": (
        "harness.attention.main",
        "which parts of the SMD a model attends to when it answers (figures)",
    ),
    "lm-eval": (
        "harness.evaluate.lm_eval_cli",
        "lm-eval's command line with the encoder baseline's model registered",
    ),
    "report": (
        "harness.report.main",
        "a self-contained HTML case viewer of one evaluation (or two side by side)",
    ),
}


def _stage(module: str, command: str):
    def run(args: argparse.Namespace) -> int:
        import importlib

        from harness.core import DataError, OutputError

        try:
            return importlib.import_module(module).main(args.stage_args)
        except (DataError, OutputError, FileNotFoundError, NotADirectoryError) as e:
            # a user's mistake (a missing or unusable dataset, file or folder) or one the user fixes (a full
            # disk, a folder without permission): one line, not a traceback
            print(f"smd {command}: error: {e}", file=sys.stderr)
            return EXIT_ERROR

    return run


def load_motion(path: str) -> np.ndarray:
    """Joints from a .npy file; raises _Failure with a readable message."""
    if not Path(path).is_file():
        raise _Failure(path, "no such file" if not Path(path).exists() else "not a file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
            # np.load would try (and refuse) to unpickle it, with a misleading message
            raise _Failure(path, "not a .npy file (no NumPy header)")
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise _Failure(path, f"cannot read as a .npy array ({e})") from None
    if not isinstance(data, np.ndarray):  # an .npz archive
        data.close()
        raise _Failure(path, "expected a .npy array of joints, got an .npz archive")
    return data


def _analyze(joints: np.ndarray, label: str, args: argparse.Namespace) -> smd.MotionAnalysis:
    try:
        analysis = smd.analyze(joints, fps=args.fps, up_axis=args.up_axis)
    except ValueError as e:
        raise _Failure(label, str(e)) from None
    for warning in analysis.warnings:  # plausible-looking numbers from implausible input: say so
        print(f"warning: {label}: {warning}", file=sys.stderr)
    return analysis


DEMO_MOTION_LABEL = "demo-motion"  # what `describe` and `plot` call the built-in motion (plot: its file name)


def _motion_or_demo(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The joints of MOTION.npy, or without one the built-in demo motion; with a label for messages."""
    if args.motion is not None:
        return load_motion(args.motion), args.motion
    from harness.describe import demo_motion

    joints = demo_motion(fps=args.fps)
    if args.up_axis == "z":  # the demo is Y-up; hand it over in the axes the user asked for
        joints = np.stack([joints[..., 0], -joints[..., 2], joints[..., 1]], axis=-1)
    return joints, DEMO_MOTION_LABEL


def _cmd_describe(args: argparse.Namespace) -> int:
    joints, label = _motion_or_demo(args)
    analysis = _analyze(joints, label, args)
    if args.all_variants:
        texts = smd.render_variants(analysis, smd.PRESETS)
        chunks = [f"=== {name} ===\n{text}" for name, text in zip(smd.PRESETS, texts)]
        _write("\n".join(chunks))
    else:
        _write(smd.render(analysis, args.variant))
    return 0


def _write(text: str) -> None:
    """Print SMD text (degree signs, arrows, en dashes) even to a console that is not UTF-8."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))


def _cmd_plot(args: argparse.Namespace) -> int:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("error: `smd plot` needs matplotlib: pip install 'smd-bench[plot]'", file=sys.stderr)
        return EXIT_ERROR
    from matplotlib.backend_bases import FigureCanvasBase

    from harness.core import OutputError, atomic_write_figure
    from harness.describe import plot_analysis

    label = args.motion or DEMO_MOTION_LABEL
    out = plot_output(args.output, label, FigureCanvasBase.get_supported_filetypes())
    joints, label = _motion_or_demo(args)
    analysis = _analyze(joints, label, args)
    fig = plot_analysis(analysis, plt, title=Path(label).name, variant=args.variant, top=args.top)
    try:
        atomic_write_figure(out, fig, dpi=100)
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, ValueError) as e:  # e.g. an extension matplotlib has no format for
        raise _Failure(str(out), f"cannot write the image ({e})") from None
    finally:
        plt.close(fig)
    print(out)
    return 0


def plot_output(output: str, motion: str, formats: dict[str, str]) -> Path:
    """Where `smd plot -o OUTPUT` writes: a folder (an existing one, or a path ending in a separator)
    gets `<motion>.png`; a file must name an image format matplotlib writes. Raises _Failure otherwise,
    before the motion is analysed."""
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        return Path(output) / f"{Path(motion).stem}.png"
    out = Path(output)
    extension = out.suffix.lower().removeprefix(".")
    if extension in formats:
        return out
    supported = ", ".join(f".{e}" for e in sorted(formats))
    what = f"a .{extension} file is no image" if extension else "no image extension"
    raise _Failure(
        output,
        f"{what}: name an image ({out.with_suffix('.png').name}; supported: {supported}) "
        "or a folder ending in /",
    )


def _cmd_readback(args: argparse.Namespace) -> int:
    from smd.readback import angle_errors

    every = []
    for path in args.motion:
        analysis = _analyze(load_motion(path), path, args)
        text = smd.render(analysis, args.variant)
        errors = angle_errors(text, analysis.angles)
        every.extend(errors.values())
        print(f"{path} ({args.variant}, {len(text)} characters, ~{len(text) // 4} tokens)")
        for i, error in errors.items():
            print(f"  {smd.ANGLES[i].name:<32} {error:6.2f}°")
        shown = np.array(list(errors.values()))
        if shown.size:
            print(
                f"  median {np.median(shown):.2f}°, 90th percentile {np.percentile(shown, 90):.2f}°, "
                f"max {shown.max():.2f}°"
            )
    if len(args.motion) > 1 and every:
        every = np.array(every)
        print(
            f"all {len(args.motion)} motions, {every.size} angle curves: median {np.median(every):.2f}°, "
            f"90th percentile {np.percentile(every, 90):.2f}°, max {every.max():.2f}°"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in STAGES:  # stages parse their own arguments, --help included
        return _stage(STAGES[argv[0]][0], argv[0])(argparse.Namespace(stage_args=argv[1:]))
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # the subcommand's own usage, not the top level's, says what it takes
        parser.subcommands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        rc = args.func(args)
        sys.stdout.flush()
        return rc
    except _Failure as e:
        print(f"error: {e.path}: {e.message}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `smd describe ... | head`: the reader left, nothing to report
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's final flush quiet
        except OSError:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""Read-back: how faithfully each SMD variant's text describes the motion, against its length.

    python benchmarks/bench_readback.py [--motions 60] [--plot docs/readback.png] [--baseline DIR]

Each motion is analysed once and rendered in every preset; the text alone is parsed back into angle
curves (`smd.readback`: holds constant, ramps linear between their end values, cycles a triangle
wave between their two values with their period) and compared with the measured angles. Per set
of motions and preset it prints the per-angle mean absolute error (median, 90th percentile, max, and
the share of angle curves over 10°), the text's mean length in tokens (characters / 4, as
bench_smd.py) and how many lines say a movement went "through ±180°" (a chart's wrap).

The sets:
  real      the real HumanML3D fixtures: tennis serve 012314, walk 000612, treadmill walk 004822
            (`$SMD_FIXTURES`, else ../shared/fixtures beside the repository; skipped when absent);
  shapes    synthetic arm and leg shapes where charts fail: an arm raised overhead and lowered, arm
            circles, a sideways sweep past the horizontal, jumping jacks, a walk's arm swing, a
            side split past the horizontal, a high kick;
  library   --motions motions of the demo's action library (harness.demo), 20 fps.

`--baseline DIR` runs the same measurement on the `smd` of another checkout (e.g. a git worktree
of the previous format) in a subprocess first and prints both, side by side in one run. `--plot`
writes the rate-distortion figure: tokens against the median and 90th-percentile error, per preset.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = {
    "012314 tennis": ("humanml3d/new_joints/012314.npy", None),
    "000612 walk": ("humanml3d_extra/000612_new_joints.npy", None),
    "004822 treadmill": ("humanml3d_extra/004822_raw_joints_and_features.npz", "joints"),
}


def _readback_module(smd):
    """This checkout's `smd.readback`, bound to the `smd` package in use (its ANGLES name the text's
    lines): a baseline checkout without one is measured by the same parser."""
    if hasattr(smd, "readback"):
        return smd.readback
    try:
        import smd.readback as module

        return module
    except ImportError:
        spec = importlib.util.spec_from_file_location("smd.readback", REPO / "smd" / "readback.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["smd.readback"] = module
        spec.loader.exec_module(module)
        return module


def _shapes(smd) -> dict[str, np.ndarray]:
    """Synthetic shapes (20 fps, Y up), posed by flexion-first angles that every format accepts."""
    fps = 20.0

    def ease(t, knots):
        ts, vs = zip(*knots)
        u = np.interp(t, ts, np.arange(len(ts)))
        k = np.minimum(np.floor(u).astype(int), len(ts) - 2)
        f = u - k
        f = f * f * (3 - 2 * f)
        v = np.asarray(vs, dtype=float)
        return v[k] + (v[k + 1] - v[k]) * f

    def pose(seconds, angles):
        t = np.arange(int(seconds * fps) + 1) / fps
        root = np.tile([0.0, 0.92, 0.0], (t.size, 1))
        curves = {k: (v(t) if callable(v) else np.full_like(t, float(v))) for k, v in angles.items()}
        return smd.forward_kinematics(curves, root)

    bent = {"left_elbow_flexion": 30.0, "right_elbow_flexion": 30.0}
    return {
        "raise overhead and lower": pose(
            6.0,
            {
                **bent,
                "right_shoulder_flexion": lambda t: ease(
                    t, [(0, 0), (1, 0), (2.5, 170), (3.5, 170), (5, 0), (6, 0)]
                ),
            },
        ),
        "arm circles": pose(
            6.0, {**bent, "left_shoulder_flexion": lambda t: 360 * np.clip((t - 0.5) / 5, 0, 1) * 2}
        ),
        "sideways sweep past the horizontal": pose(
            6.0,
            {
                **bent,
                "left_shoulder_flexion": 90.0,
                "left_shoulder_adduction": lambda t: ease(t, [(0, 0), (1, 0), (4, -130), (6, -130)]),
            },
        ),
        "jumping jacks": pose(
            6.0,
            {
                **bent,
                "left_shoulder_adduction": lambda t: -80 + 80 * np.cos(2 * np.pi * t / 1.5),
                "right_shoulder_adduction": lambda t: -80 + 80 * np.cos(2 * np.pi * t / 1.5),
                "left_hip_adduction": lambda t: -15 + 15 * np.cos(2 * np.pi * t / 1.5),
                "right_hip_adduction": lambda t: -15 + 15 * np.cos(2 * np.pi * t / 1.5),
            },
        ),
        "walk's arm swing": pose(
            6.0,
            {
                **bent,
                "left_shoulder_flexion": lambda t: -20 * np.sin(2 * np.pi * t / 1.1),
                "right_shoulder_flexion": lambda t: 20 * np.sin(2 * np.pi * t / 1.1),
                "left_hip_flexion": lambda t: 25 * np.sin(2 * np.pi * t / 1.1),
                "right_hip_flexion": lambda t: -25 * np.sin(2 * np.pi * t / 1.1),
            },
        ),
        "side split past the horizontal": pose(
            6.0,
            {
                "left_hip_adduction": lambda t: ease(t, [(0, 0), (1, 0), (3, -100), (4.5, -100), (6, 0)]),
                "right_hip_adduction": lambda t: ease(t, [(0, 0), (1, 0), (3, -100), (4.5, -100), (6, 0)]),
            },
        ),
        "high kick": pose(
            4.0,
            {
                "right_hip_flexion": lambda t: ease(t, [(0, 0), (1, 0), (1.6, 130), (2.2, 0), (4, 0)]),
                "right_hip_adduction": lambda t: ease(t, [(0, 0), (1, 0), (1.6, -30), (2.2, 0), (4, 0)]),
                "right_knee_flexion": lambda t: ease(
                    t, [(0, 0), (1, 0), (1.3, 60), (1.6, 5), (2.2, 40), (4, 0)]
                ),
            },
        ),
    }


def _library(n: int) -> dict[str, np.ndarray]:
    from harness.demo.compose import random_motion, sample_motion

    return {
        f"demo {seed}": sample_motion(random_motion(np.random.default_rng(seed)), 20.0) for seed in range(n)
    }


def _real() -> dict[str, np.ndarray]:
    root = Path(os.environ.get("SMD_FIXTURES", REPO.parent / "shared" / "fixtures"))
    out = {}
    for name, (rel, key) in REAL.items():
        if (root / rel).is_file():
            data = np.load(root / rel, allow_pickle=False)
            out[name] = data[key] if key else data
    return out


def measure(n_library: int) -> dict:
    """{set: {preset: {errors: [...], tokens: [...], wraps: int}}} for the `smd` on sys.path."""
    import smd

    readback = _readback_module(smd)
    sets = {"real": _real(), "shapes": _shapes(smd), "library": _library(n_library)}
    out: dict = {"format": smd.FORMAT_VERSION, "sets": {}}
    for set_name, motions in sets.items():
        table = {name: {"errors": [], "tokens": [], "wraps": 0} for name in smd.PRESETS}
        for joints in motions.values():
            analysis = smd.analyze(joints, fps=20.0)
            for name in smd.PRESETS:
                text = smd.render(analysis, name)  # (every checkout has `render`)
                row = table[name]
                row["errors"].extend(readback.angle_errors(text, analysis.angles).values())
                row["tokens"].append(len(text) / 4)
                row["wraps"] += text.count("through ±180°")
        out["sets"][set_name] = {"motions": len(motions), "presets": table}
    return out


def _summary(row: dict) -> dict:
    e = np.asarray(row["errors"])
    return {
        "curves": int(e.size),
        "median": float(np.median(e)),
        "p90": float(np.percentile(e, 90)),
        "max": float(e.max()),
        "over10": float((e > 10).mean()),
        "tokens": float(np.mean(row["tokens"])),
        "wraps": row["wraps"],
    }


def _print(result: dict, baseline: dict | None) -> None:
    for set_name, block in result["sets"].items():
        print(f"\n{set_name} ({block['motions']} motions)")
        head = "  preset       curves  median    p90     max  >10°   tokens  wraps"
        if baseline:
            head += f"   | {baseline['format']}: median    p90     max  >10°   tokens  wraps"
        print(head)
        for name, row in block["presets"].items():
            s = _summary(row)
            line = (
                f"  {name:<12} {s['curves']:6d} {s['median']:6.2f}° {s['p90']:6.2f}° {s['max']:6.2f}° "
                f"{100 * s['over10']:4.1f}% {s['tokens']:7.0f} {s['wraps']:6d}"
            )
            old = baseline and baseline["sets"].get(set_name, {}).get("presets", {}).get(name)
            if old:
                b = _summary(old)
                line += (
                    f"   |{' ' * len(baseline['format'])}  {b['median']:6.2f}° {b['p90']:6.2f}° "
                    f"{b['max']:6.2f}° "
                    f"{100 * b['over10']:4.1f}% {b['tokens']:7.0f} {b['wraps']:6d}"
                )
            print(line)


def _plot(result: dict, baseline: dict | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(result["sets"])
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), layout="constrained")
    for ax, set_name in zip(np.atleast_1d(axes), sets):
        for run, style in (
            (baseline, dict(color="tab:gray", marker="s")),
            (result, dict(color="tab:blue", marker="o")),
        ):
            if not run or set_name not in run["sets"]:
                continue
            rows = {k: _summary(v) for k, v in run["sets"][set_name]["presets"].items()}
            tokens = [r["tokens"] for r in rows.values()]
            ax.scatter(tokens, [r["median"] for r in rows.values()], label=f"{run['format']} median", **style)
            ax.scatter(
                tokens,
                [r["p90"] for r in rows.values()],
                label=f"{run['format']} 90th pct",
                alpha=0.4,
                **style,
            )
            if run is result:
                for name, r in rows.items():
                    ax.annotate(name.removeprefix("v5_") or "v5", (r["tokens"], r["median"]), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("tokens (characters / 4)")
        ax.set_ylabel("read-back error per angle (°)")
        ax.set_title(f"{set_name} ({result['sets'][set_name]['motions']} motions)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nwrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--motions", type=int, default=60, help="demo library motions (default: 60)")
    parser.add_argument("--plot", type=Path, help="write the rate-distortion figure here (PNG)")
    parser.add_argument(
        "--baseline", type=Path, help="a checkout whose smd is measured too, first, for comparison"
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the baseline's subprocess
    args = parser.parse_args(argv)
    baseline = None
    if args.baseline:
        env = dict(os.environ, PYTHONPATH=f"{args.baseline.resolve()}{os.pathsep}{REPO}")
        run = subprocess.run(
            [sys.executable, __file__, "--json", "--motions", str(args.motions)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=args.baseline,
        )
        baseline = json.loads(run.stdout)
    result = measure(args.motions)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"SMD read-back ({result['format']}{', beside ' + baseline['format'] if baseline else ''})")
    _print(result, baseline)
    if args.plot:
        _plot(result, baseline, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())

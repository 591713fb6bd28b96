"""Speed and text size of the SMD on synthetic HumanML3D-like motions, on one core.

    python benchmarks/bench_smd.py [--motions 200] [--seed 0] [--repeats 3]

Synthesises motions with `smd.forward_kinematics` (40-200 frames at 20 fps; random mixes of
holds, ramps and oscillations on a random subset of the 26 angles, within realistic ranges; random
root paths that stand, walk, turn, crouch), then measures in this single process, pinned to one CPU:

  (a) motions/s for `analyze` + `render` of all ten presets (one analysis per motion, as in use);
  (b) motions/s for `analyze` alone;
  (c) per preset, mean characters and estimated tokens (characters / 4), over all motions and
      over the "7-second motions" (6.5-7.5 s; HumanML3D's mean duration is ~7.1 s).

Also reports characters / tokens per preset of two real HumanML3D motions when the fixtures exist
(`$SMD_FIXTURES`, else ../shared/fixtures beside the repository), and projects the time to
regenerate all 29,228 HumanML3D motions x 10 presets on 2 cores. Timings are best of --repeats.
"""

from __future__ import annotations

import os

# one core: keep numpy's BLAS / OpenMP pools single-threaded (must precede the numpy import)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import best_time, fixtures_dir, pin_one_cpu  # noqa: E402

import smd  # noqa: E402
from smd.angles import ANGLE_KEYS  # noqa: E402

# the coordinates that pose a body (the shoulders by flexion and adduction); a checkout of the
# format before them (`--baseline`) poses with its ANGLE_KEYS, the same coordinates
POSE_KEYS = getattr(importlib.import_module("smd.kinematics"), "POSE_KEYS", ANGLE_KEYS)

REPO = Path(__file__).resolve().parents[1]
FPS = 20.0
HUMANML3D_MOTIONS = 29_228  # all.txt, mirrored copies included
HUMANML3D_MEAN_FRAMES = 142  # ~7.1 s at 20 fps
SEVEN_S = (6.5, 7.5)
REAL_FIXTURES = ("humanml3d/new_joints/012314.npy", "humanml3d_extra/000612_new_joints.npy")

# Realistic ranges (degrees) of each angle in everyday motion: (low, high).
RANGES: dict[str, tuple[float, float]] = {
    "pelvis_tilt": (-15, 30),
    "pelvis_list": (-10, 10),
    "pelvis_rotation": (-30, 30),  # local twist; the root path's heading is added on top
    "lumbar_extension": (-40, 20),
    "lumbar_bending": (-20, 20),
    "lumbar_rotation": (-30, 30),
    "neck_flexion": (-30, 40),
    "neck_lateral_bending": (-20, 20),
    **{
        f"{s}_{k}": r
        for s in ("left", "right")
        for k, r in (
            ("hip_flexion", (-20, 100)),
            ("hip_adduction", (-30, 15)),
            ("hip_rotation", (-30, 30)),
            ("knee_flexion", (0, 120)),
            ("ankle_dorsiflexion", (-30, 20)),
            ("shoulder_flexion", (-40, 160)),
            ("shoulder_adduction", (-120, 10)),
            ("shoulder_rotation", (-60, 60)),
            ("elbow_flexion", (0, 140)),
        )
    },
}
assert set(RANGES) == set(POSE_KEYS)


def _angle_curve(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """Concatenated holds, ramps and oscillations, continuous, clipped to [low, high]."""
    neutral = float(np.clip(0.0, low, high))
    value = rng.uniform(low, neutral + 0.3 * (high - neutral)) if rng.random() < 0.5 else neutral
    out = np.empty(n)
    i = 0
    while i < n:
        length = min(n - i, int(rng.integers(10, 50)))
        k = np.arange(length)
        kind = rng.choice(["hold", "ramp", "sine"], p=[0.3, 0.4, 0.3])
        if kind == "hold":
            piece = np.full(length, value) + rng.normal(0.0, 0.3, length)
        elif kind == "ramp":
            target = rng.uniform(low, high)
            u = (1 - np.cos(np.pi * (k + 1) / length)) / 2
            piece = value + (target - value) * u
        else:
            amp = rng.uniform(0.05, 0.35) * (high - low)
            freq = rng.uniform(0.4, 2.0)  # Hz
            piece = value + amp * np.sin(2 * np.pi * freq * k / FPS)
        out[i : i + length] = piece
        value = float(piece[-1])
        i += length
    return np.clip(out, low, high)


def _root_path(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) pelvis positions and (n,) heading (degrees): stand, walk, run, turn, crouch."""
    t = np.arange(n) / FPS
    speed_kind = rng.choice(["still", "walk", "run"], p=[0.35, 0.5, 0.15])
    speed = {"still": 0.0, "walk": rng.uniform(0.6, 1.5), "run": rng.uniform(2.0, 3.5)}[speed_kind]
    start, stop = sorted(rng.uniform(0, t[-1], 2))
    moving = speed * ((t >= start) & (t <= stop) if rng.random() < 0.5 else np.ones(n, dtype=bool))
    turn_rate = rng.choice([0.0, rng.uniform(-60, 60), rng.uniform(-180, 180)], p=[0.5, 0.35, 0.15])
    heading = np.cumsum(np.full(n, turn_rate / FPS)) + rng.uniform(-180, 180)
    rad = np.radians(heading)
    x = np.cumsum(moving * np.sin(rad)) / FPS
    z = np.cumsum(moving * np.cos(rad)) / FPS
    y = 0.92 + 0.02 * np.sin(2 * np.pi * 2.0 * t) * (moving > 0)
    if rng.random() < 0.2:  # crouch / jump-like height changes
        y = y - rng.uniform(0.1, 0.4) * np.sin(np.pi * np.clip((t - start) / max(stop - start, 0.5), 0, 1))
    return np.stack([x, y, z], axis=1), heading


def _sway(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """Small smooth wandering of a joint that is not the focus of the motion (real mocap is never still)."""
    t = np.arange(n) / FPS
    out = np.zeros(n)
    for _ in range(3):
        freq, phase = rng.uniform(0.3, 2.0), rng.uniform(0, 2 * np.pi)  # Hz, radians
        out += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * freq * t + phase)
    return amplitude * out / 2.0


def synth_motion(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(40, 201))
    n_active = int(rng.integers(3, len(POSE_KEYS) + 1))
    active = set(rng.choice(len(POSE_KEYS), size=n_active, replace=False).tolist())
    # degrees of sway of every joint, calm .. fidgety performers; calibrated so that the v5 text per
    # second of motion matches the real fixtures (~330-380 tokens/s)
    busy = rng.uniform(4.0, 12.0)
    angles = {}
    for i, key in enumerate(POSE_KEYS):
        low, high = RANGES[key]
        base = _angle_curve(rng, n, low, high) if i in active else np.full(n, float(np.clip(0.0, low, high)))
        angles[key] = np.clip(base + _sway(rng, n, busy), low - 10, high + 10) + rng.normal(0.0, 0.2, n)
    root, heading = _root_path(rng, n)
    angles["pelvis_rotation"] = angles.get("pelvis_rotation", np.zeros(n)) + heading
    joints = smd.forward_kinematics(angles, root, scale=float(rng.uniform(0.9, 1.1)))
    return joints.astype(np.float32)  # HumanML3D ships float32


def _size_table(rows: list[tuple[str, list[str]]], columns: list[str]) -> str:
    width = max(len(c) for c in columns) + 2
    head = f"{'preset':<12}" + "".join(f"{c:>{width}}" for c in columns)
    lines = [head, "-" * len(head)]
    for name, cells in rows:
        lines.append(f"{name:<12}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def _render_all(a, presets: list[str]) -> list[str]:
    """Every preset's text of one analysis, as `smd build-smd` renders them (`render_variants`; a
    checkout from before it renders preset by preset, sharing its parts through the analysis)."""
    if hasattr(smd, "render_variants"):
        return smd.render_variants(a, presets)
    return [smd.render(a, p) for p in presets]


def _full(motions: list[np.ndarray], presets: list[str]):
    def full() -> None:
        for m in motions:
            _render_all(smd.analyze(m, fps=FPS), presets)

    return full


def _side_by_side(args: argparse.Namespace) -> int:
    """(a) for this checkout's smd and the baseline's, in turn, each in a fresh pinned process."""
    runs = {"this": REPO, "baseline": args.baseline.resolve()}
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    formats = {}
    argv = [
        "--time-only",
        "--motions",
        str(args.motions),
        "--seed",
        str(args.seed),
        "--repeats",
        str(args.repeats),
    ]
    for _ in range(args.pairs):
        for name, root in runs.items():
            env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{REPO}")
            out = subprocess.run(
                [sys.executable, __file__, *argv],
                env=env,
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            formats[name] = row["format"]
            seconds[name].append(row["seconds"])
    ratios = np.array(seconds["this"]) / np.array(seconds["baseline"])
    n = args.motions
    print(
        f"(a) analyze + render x{len(smd.PRESETS)} presets, {n} synthetic motions, "
        f"best of {args.repeats} per process"
    )
    for name in runs:
        s = np.array(seconds[name])
        print(
            f"  {formats[name]:<14} {n / np.median(s):8.1f} motions/s "
            f"(median of {s.size}; {n / s.max():.1f}-{n / s.min():.1f})"
        )
    print(
        f"  time {formats['this']} / {formats['baseline']}, pair by pair: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f"; median {np.median(ratios):.2f}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--motions", type=int, default=200, help="synthetic motions (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the synthesis (default: 0)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats, best taken (default: 3)")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="a checkout of another format (e.g. a git worktree): time (a) for both, alternating A B A B in "
        "fresh processes on the same motions, and print the ratio pair by pair",
    )
    parser.add_argument("--pairs", type=int, default=5, help="A B pairs with --baseline (default: 5)")
    parser.add_argument("--time-only", action="store_true", help=argparse.SUPPRESS)  # one --baseline process
    args = parser.parse_args(argv)
    if args.motions < 1 or args.repeats < 1:
        parser.error("--motions and --repeats must be >= 1")
    if args.baseline:
        return _side_by_side(args)
    if args.time_only:
        pin_one_cpu()
        motions = [
            synth_motion(rng) for rng in [np.random.default_rng(args.seed)] for _ in range(args.motions)
        ]
        full = _full(motions, list(smd.PRESETS))
        full()  # warm-up
        print(json.dumps({"format": smd.FORMAT_VERSION, "seconds": best_time(full, args.repeats)}))
        return 0

    pinned = pin_one_cpu()
    presets = list(smd.PRESETS)
    print(f"SMD benchmark: {smd.FORMAT_VERSION}, Python {platform.python_version()}, numpy {np.__version__}")
    print(f"machine: {platform.machine()} {platform.processor() or ''}".rstrip() + f"; one process, {pinned}")

    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    motions = [synth_motion(rng) for _ in range(args.motions)]
    frames = np.array([m.shape[0] for m in motions])
    durations = frames / FPS
    print(
        f"{len(motions)} synthetic motions (seed {args.seed}) in {time.perf_counter() - t0:.1f}s: "
        f"{frames.min()}-{frames.max()} frames, mean {durations.mean():.2f}s, "
        f"{int(((durations >= SEVEN_S[0]) & (durations <= SEVEN_S[1])).sum())} of 6.5-7.5s"
    )

    # warm-up (imports, scipy's first calls)
    for m in motions[:5]:
        _render_all(smd.analyze(m, fps=FPS), presets)
    full = _full(motions, presets)

    def analyze_only() -> None:
        for m in motions:
            smd.analyze(m, fps=FPS)

    t_full = best_time(full, args.repeats)
    t_analyze = best_time(analyze_only, args.repeats)

    # per-motion times of the full pipeline (to project at HumanML3D's mean length) and (c) text sizes
    n = len(motions)
    per_motion = np.empty(n)
    chars = np.empty((len(presets), n))
    for i, m in enumerate(motions):
        s = time.perf_counter()
        a = smd.analyze(m, fps=FPS)
        texts = _render_all(a, presets)
        per_motion[i] = time.perf_counter() - s
        chars[:, i] = [len(x) for x in texts]
    slope, intercept = np.polyfit(frames, per_motion, 1)
    at_mean_len = slope * HUMANML3D_MEAN_FRAMES + intercept

    t_render = max(t_full - t_analyze, 0.0)
    print()
    print(f"Speed (one core, best of {args.repeats}):")
    for label, secs, rate in (
        (f"(a) analyze + render x{len(presets)} presets", t_full, f"{n / t_full:8.1f} motions/s"),
        ("(b) analyze only", t_analyze, f"{n / t_analyze:8.1f} motions/s"),
        (f"    => render {len(presets)} presets", t_render, ""),
    ):
        print(f"  {label:<36}{rate:>18}  {1e3 * secs / n:6.2f} ms/motion")
    print(
        f"  per-motion fit of (a): {1e3 * intercept:.2f} ms + {1e3 * slope * 100:.2f} ms per 100 frames"
        f" -> {1e3 * at_mean_len:.2f} ms at {HUMANML3D_MEAN_FRAMES} frames"
    )

    seven = (durations >= SEVEN_S[0]) & (durations <= SEVEN_S[1])
    rows = []
    for p, c in zip(presets, chars, strict=True):
        cells = [f"{c.mean():.0f}", f"{c.mean() / 4:.0f}", f"{c.max() / 4:.0f}"]
        cells += [f"{c[seven].mean():.0f}", f"{c[seven].mean() / 4:.0f}"] if seven.any() else ["-", "-"]
        rows.append((p, cells))
    print()
    print(
        f"Text size per preset, {n} synthetic motions (tokens ~ chars / 4; "
        f"7s = the {int(seven.sum())} motions of 6.5-7.5s):"
    )
    print(_size_table(rows, ["chars", "tokens", "max tok", "chars 7s", "tokens 7s"]))

    # real motions, when the fixtures are there
    fixtures = fixtures_dir()
    found = [(Path(rel).stem[:6], fixtures / rel) for rel in REAL_FIXTURES if (fixtures / rel).is_file()]
    print()
    if not found:
        print(f"Real HumanML3D motions: fixtures not found under {fixtures} (set SMD_FIXTURES); skipped.")
    else:
        analyses = [smd.analyze(np.load(path, allow_pickle=False), fps=FPS) for _, path in found]
        heads = ", ".join(f"{name} ({a.duration:.1f}s)" for (name, _), a in zip(found, analyses, strict=True))
        print(f"Real HumanML3D motions in {fixtures}: {heads}")
        rows = []
        for p in presets:
            sizes = [len(smd.render(a, p)) for a in analyses]
            rows.append((p, [cell for c in sizes for cell in (f"{c}", f"{c / 4:.0f}")]))
        print(_size_table(rows, [col for name, _ in found for col in (f"{name} chars", "tokens")]))

    # projection
    cores = 2
    projections = (
        (f"this sample's mean length ({durations.mean():.1f}s)", HUMANML3D_MOTIONS * (t_full / n) / cores),
        (
            f"HumanML3D's mean length (~{HUMANML3D_MEAN_FRAMES / FPS:.1f}s)",
            HUMANML3D_MOTIONS * at_mean_len / cores,
        ),
    )
    print()
    print(
        f"Projection: all {HUMANML3D_MOTIONS:,} HumanML3D motions x {len(presets)} presets on {cores} cores"
    )
    for label, secs in projections:
        print(f"  at {label:<34} {secs:7.1f}s ({secs / 60:.1f} min)")
    print("  (2 independent processes assumed to scale linearly; loading and writing files not included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

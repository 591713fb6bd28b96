"""HumanML3D 263-d features from joints: agreement with the official features, and speed, on one core.

    python benchmarks/bench_features.py [--motions 100] [--seed 0] [--repeats 3]

(1) Accuracy, when the real-data fixtures exist (`$SMD_FIXTURES`, else ../shared/fixtures beside the
    repository): `harness.data.motion_features.joints_to_features` on the RAW joints of HumanML3D test motion
    004822 against its official 263-d features, maximum absolute error per group (root 4, ric 63, rot 126,
    vel 66, contacts 4), for the float64 result and the default float32 output; and
    `features_to_joints` (HumanML3D's recover_from_ric) against the official new_joints of 000612 and
    012314.
(2) Speed, in this single process pinned to one CPU: motions/s and feature frames/s of
    `joints_to_features` on synthetic 20 fps motions of 2-10 s (random joint-angle oscillations on a
    turning, walking root, random body size), and of `features_to_joints`; projected time for all
    29,228 HumanML3D motions (mean ~7.1 s). Timings are best of --repeats.
"""

from __future__ import annotations

import os

# one core: keep numpy's BLAS / OpenMP pools single-threaded (must precede the numpy import)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# the repository's own packages first, whatever the working directory and the install's path finder
sys.path.insert(0, str(REPO))

from _common import best_time, fixtures_dir, pin_one_cpu  # noqa: E402

import smd  # noqa: E402
from harness.data import FEATURE_GROUPS, features_to_joints, joints_to_features  # noqa: E402

FPS = 20.0
HUMANML3D_MOTIONS = 29_228
HUMANML3D_MEAN_FRAMES = 142
TOLERANCE = 1e-4  # per dimension, the acceptance target

OSCILLATING = (
    "left_hip_flexion",
    "right_hip_flexion",
    "left_knee_flexion",
    "right_knee_flexion",
    "left_shoulder_flexion",
    "right_shoulder_flexion",
    "left_elbow_flexion",
    "right_elbow_flexion",
    "lumbar_extension",
    "neck_flexion",
)


def synth_motion(rng: np.random.Generator) -> np.ndarray:
    """A 2-10 s motion: oscillating joints, a root that walks and turns, a random body size."""
    n = int(rng.integers(40, 201))
    t = np.arange(n) / FPS
    angles = {
        key: rng.uniform(0, 40) * np.sin(2 * np.pi * rng.uniform(0.2, 1.5) * t + rng.uniform(0, 2 * np.pi))
        for key in OSCILLATING
    }
    heading = np.cumsum(np.full(n, rng.uniform(-60, 60) / FPS))  # degrees, a steady turn
    angles["pelvis_rotation"] = heading
    speed = rng.uniform(0.0, 1.5)
    yaw = np.radians(heading)
    root = np.stack(
        [
            np.cumsum(speed * np.sin(yaw) / FPS),
            0.92 + 0.02 * np.sin(4 * np.pi * t),
            np.cumsum(speed * np.cos(yaw) / FPS),
        ],
        axis=1,
    )
    return smd.forward_kinematics(angles, root, scale=float(rng.uniform(0.85, 1.15))).astype(np.float32)


def accuracy(fixtures: Path) -> np.ndarray | None:
    """Print the per-group errors on the fixtures; returns the target skeleton (None when absent)."""
    extra = fixtures / "humanml3d_extra"
    clip = extra / "004822_raw_joints_and_features.npz"
    skeleton = extra / "skeleton_000021_frame0_raw52.npy"
    if not (clip.is_file() and skeleton.is_file()):
        print(f"Accuracy: fixtures not found under {fixtures} (set SMD_FIXTURES); skipped.")
        return None
    data = np.load(clip)
    target = np.load(skeleton)
    joints, official = data["joints"], data["hml263"].astype(np.float64)
    ours64 = joints_to_features(joints, target, dtype=np.float64)
    ours32 = joints_to_features(joints, target).astype(np.float64)
    print(
        f"Accuracy on HumanML3D 004822 (raw joints {joints.shape} -> features {ours64.shape}, "
        f"official {official.shape}); target <= {TOLERANCE:g} per dimension:"
    )
    print(f"  {'group':<9}{'dims':>6}{'max |err| f64':>16}{'f32 output':>14}{'worst frame':>13}  ok")
    worst_all = 0.0
    for name, sl in FEATURE_GROUPS.items():
        err64 = np.abs(ours64[:, sl] - official[:, sl])
        err32 = np.abs(ours32[:, sl] - official[:, sl]).max()
        worst_all = max(worst_all, err64.max(), err32)
        frame = int(np.unravel_index(err64.argmax(), err64.shape)[0])
        ok = "yes" if max(err64.max(), err32) <= TOLERANCE else "NO"
        print(f"  {name:<9}{sl.stop - sl.start:>6}{err64.max():>16.2e}{err32:>14.2e}{frame:>13}  {ok}")
    print(f"  all 263 dims: max {worst_all:.2e}")

    pairs = (
        ("000612", extra / "000612_new_joint_vecs.npy", extra / "000612_new_joints.npy"),
        (
            "012314",
            fixtures / "humanml3d/new_joint_vecs/012314.npy",
            fixtures / "humanml3d/new_joints/012314.npy",
        ),
    )
    for name, vecs, joints_file in pairs:
        if vecs.is_file() and joints_file.is_file():
            recovered = features_to_joints(np.load(vecs))
            err = np.abs(recovered - np.load(joints_file)[: len(recovered)]).max()
            print(f"  features_to_joints vs official new_joints of {name}: max |err| {err:.2e} m")
    roundtrip = np.abs(
        features_to_joints(ours64, dtype=np.float64) - features_to_joints(official, dtype=np.float64)
    ).max()
    print(f"  004822 joints recovered from our vs the official features: max |diff| {roundtrip:.2e} m")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--motions", type=int, default=100, help="synthetic motions (default: 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the synthesis (default: 0)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats, best taken (default: 3)")
    args = parser.parse_args(argv)
    if args.motions < 1 or args.repeats < 1:
        parser.error("--motions and --repeats must be at least 1")

    pinned = pin_one_cpu()
    print(f"HumanML3D features benchmark: Python {platform.python_version()}, numpy {np.__version__}")
    print(f"machine: {platform.machine()} {platform.processor() or ''}".rstrip() + f"; one process, {pinned}")
    print()

    target = accuracy(fixtures_dir())
    if target is None:
        target = smd.forward_kinematics({}, np.array([[0.0, 0.92, 0.0]]))[0]  # the symmetrised skeleton

    rng = np.random.default_rng(args.seed)
    motions = [synth_motion(rng) for _ in range(args.motions)]
    frames = sum(len(m) - 1 for m in motions)
    features = [joints_to_features(m, target) for m in motions]

    t_forward = best_time(lambda: [joints_to_features(m, target) for m in motions], args.repeats)
    t_back = best_time(lambda: [features_to_joints(f) for f in features], args.repeats)
    lengths = np.array([len(m) for m in motions])
    per_motion = []
    for m in motions:
        per_motion.append(best_time(lambda m=m: joints_to_features(m, target), args.repeats))
    slope, intercept = np.polyfit(lengths, per_motion, 1)
    at_mean = slope * HUMANML3D_MEAN_FRAMES + intercept

    print()
    print(
        f"Speed (one core, best of {args.repeats}; {len(motions)} synthetic motions, "
        f"{lengths.min()}-{lengths.max()} frames, {frames} feature frames):"
    )
    for label, secs in (("joints_to_features", t_forward), ("features_to_joints", t_back)):
        print(
            f"  {label:<20}{len(motions) / secs:9.1f} motions/s {frames / secs:11.0f} features/s"
            f"  {1e3 * secs / len(motions):6.2f} ms/motion"
        )
    print(
        f"  joints_to_features per motion: {1e3 * intercept:.2f} ms"
        f" + {1e3 * slope * 100:.2f} ms per 100 frames"
        f" -> {1e3 * at_mean:.2f} ms at {HUMANML3D_MEAN_FRAMES} frames"
    )
    print(
        f"Projection: all {HUMANML3D_MOTIONS:,} HumanML3D motions on one core: "
        f"{HUMANML3D_MOTIONS * at_mean:.0f}s (files not included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Frame-rate robustness of the SMD on the real fixtures: the same motion at 20 fps and resampled to 30 fps.

    python benchmarks/bench_fps_robustness.py [--variant v5]

HumanML3D ships 20 fps, BABEL-QA and HuMMan-QA 30 fps: the same movement must read the same at
both. Each real fixture (20 fps; cut to an odd number of frames, so that its span is a whole number of
30 fps frames too) is resampled to 30 fps by cubic interpolation of every joint coordinate over
the same time span, and both are analysed. Per fixture it reports:

  structure: the fraction of determined angles whose segment structure (the sequence of kinds:
      holds / increases / decreases / repeats, and the cycle counts) is the same at both rates;
  max value change: over the angles of the same structure, the largest difference (degrees)
      between corresponding segment values (start, end), also leaving out segments where an axial
      rotation is undefined (limb straight: filled in from the nearest frames where it is
      defined, which depend on the rate) within the smoothing window of the segment, and of
      segment boundaries (seconds).

With --offset the 30 fps samples start 1/60 s late, so that none falls on a 20 fps sample (the
span is then 1/60 s shorter at the start): closer to two independent captures, and harder.
With --verbose, also lists the angles whose structure differs. Needs the fixtures (`$SMD_FIXTURES`, else
../shared/fixtures beside the repository).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import fixtures_dir
from scipy.interpolate import CubicSpline

import smd
from smd.angles import ANGLES, joint_angles
from smd.canonical import canonicalize

FIXTURES = {
    "012314 tennis swing": ("humanml3d/new_joints/012314.npy", None),
    "000612 walk": ("humanml3d_extra/000612_new_joints.npy", None),
    "004822 treadmill walk (raw)": ("humanml3d_extra/004822_raw_joints_and_features.npz", "joints"),
}


def resample(joints: np.ndarray, fps: float, new_fps: float, offset: float = 0.0) -> np.ndarray:
    """Cubic resampling of (T, 22, 3) joints over the same time span, from `offset` seconds on."""
    t = np.arange(joints.shape[0]) / fps
    t_new = offset + np.arange(int(np.floor((t[-1] - offset) * new_fps + 1e-9)) + 1) / new_fps
    return CubicSpline(t, joints.astype(np.float64), axis=0)(t_new)


def structure(segs) -> tuple:
    return tuple((s.kind, s.cycles) for s in segs)


def compare(joints: np.ndarray, variant: str, offset: bool = False) -> dict:
    """Structure fraction and value / time changes between 20 fps and 30 fps resampled (with
    `offset`: 30 fps samples half a 30 fps frame late, so none falls on a 20 fps sample)."""
    v = smd.resolve_variant(variant)
    # the same span at both rates: an even number of 20 fps steps is a whole number of 30 fps ones
    joints = joints[: joints.shape[0] - (joints.shape[0] - 1) % 2]
    a20 = smd.analyze(joints, fps=20.0)
    a30 = smd.analyze(resample(joints, 20.0, 30.0, 1 / 60 if offset else 0.0), fps=30.0)
    s20, s30 = a20.angle_segments(v.delta), a30.angle_segments(v.delta)
    same, differ, max_value, max_time, where, max_defined = 0, [], 0.0, 0.0, "", 0.0
    ja = joint_angles(canonicalize(joints))  # (before issue 11 there was no confidence: all defined)
    confidence = getattr(ja, "confidence", np.ones_like(ja.values))
    determined = [i for i in range(len(ANGLES)) if a20.determined[i] and a30.determined[i]]
    for i in determined:
        if structure(s20[i]) == structure(s30[i]):
            same += 1
            for x, y in zip(s20[i], s30[i]):
                change = max(abs(x.start - y.start), abs(x.end - y.end))
                # not an axial rotation filled in where the limb is straight, within the smoothing
                # window (5 frames) of the segment
                frames = confidence[max(int(x.t0 * 20) - 5, 0) : int(np.ceil(x.t1 * 20)) + 6, i]
                if frames.min() > 0:
                    max_defined = max(max_defined, change)
                if change > max_value:
                    max_value, where = change, f"{ANGLES[i].name} {x} vs {y}"
                max_time = max(max_time, abs(x.t0 - y.t0), abs(x.t1 - y.t1))
        else:
            differ.append(
                f"{ANGLES[i].name}: {'/'.join(k[:4] for k, _ in structure(s20[i]))} vs "
                f"{'/'.join(k[:4] for k, _ in structure(s30[i]))}"
            )
    return {
        "n": len(determined),
        "same": same,
        "fraction": same / max(len(determined), 1),
        "max_value": max_value,
        "max_value_defined": max_defined,
        "max_time": max_time,
        "differ": differ,
        "where": where,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="v5", help="preset whose threshold segments (default: v5)")
    parser.add_argument(
        "--offset",
        action="store_true",
        help="30 fps samples half a frame late: none on a 20 fps sample (a harder, more real case)",
    )
    parser.add_argument("--verbose", action="store_true", help="list the angles whose structure differs")
    args = parser.parse_args(argv)
    root = fixtures_dir()
    offset = ", 30 fps samples offset by 1/60 s" if args.offset else ""
    print(f"SMD frame-rate robustness ({smd.FORMAT_VERSION}, {args.variant}{offset}), fixtures {root}")
    missing = 0
    for label, (rel, key) in FIXTURES.items():
        path = root / rel
        if not path.is_file():
            print(f"  {label}: {path} not found, skipped")
            missing += 1
            continue
        if key is None:
            joints = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as z:
                joints = z[key]
        r = compare(joints, args.variant, args.offset)
        print(
            f"  {label:<30} structure {r['same']:>2}/{r['n']} = {100 * r['fraction']:5.1f} %   "
            f"max value change {r['max_value']:4.1f}° ({r['max_value_defined']:.1f}° where defined)   "
            f"max boundary change {r['max_time']:.2f}s"
        )
        if args.verbose:
            print(f"      largest value change: {r['where']}")
            for line in r["differ"]:
                print(f"      {line}")
    return 1 if missing == len(FIXTURES) else 0


if __name__ == "__main__":
    sys.exit(main())

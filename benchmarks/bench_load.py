"""Full-size load: `smd build-smd` (all presets) and `smd make-docs` (v5) on a HumanML3D-shaped folder.

    python benchmarks/bench_load.py                  # 29,228 motions, HumanML3D's count
    python benchmarks/bench_load.py --motions 2000   # smaller
    python benchmarks/bench_load.py --keep DIR       # build the folder in DIR and leave it there

The folder is made from the real fixture clips (`humanml3d/new_joints`, `humanml3d_extra/*_new_joints.npy`):
each motion is one of them played back and forth to a length drawn like HumanML3D's (2-10 s at 20 fps,
40-199 frames, T2M's range), scaled and jittered (a few millimetres) so that no two are the same, with
three captions (on one motion in twenty, one of them on a sub-span long enough to be a sample of its
own) and the real split lists' ids
(train/val/test in HumanML3D's proportions, `M` mirrored ids included). Each stage runs as the `smd`
command does, in a child process; its wall time and peak resident memory (the child's `ru_maxrss`:
the largest of that process and its workers, each on its own) are printed with the outputs' sizes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import REPO, fixtures_dir

HML_MOTIONS = 29_228
FPS = 20
MIN_FRAMES, MAX_FRAMES = 40, 199  # 2-10 s, inside T2M's [40, 200)
SPLIT_SHARES = {"train": 23_384, "val": 1_460, "test": 4_384}  # HumanML3D's split sizes
SPAN_SHARE = 0.05  # motions with a caption on a sub-span long enough to be a sample of its own
CAPTIONS = (
    "a person walks forward and then turns around.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0",
    "someone swings their right arm as if hitting a ball.#someone/PRON swing/VERB arm/NOUN#0.0#0.0",
    "the person steps to the side.#the/DET person/NOUN step/VERB side/NOUN#{}#{}",
)


def fixture_clips() -> list[np.ndarray]:
    root = fixtures_dir()
    files = sorted((root / "humanml3d" / "new_joints").glob("*.npy"))
    files += sorted((root / "humanml3d_extra").glob("*_new_joints.npy"))
    if not files:
        sys.exit(f"no fixture clips under {root} (set SMD_FIXTURES)")
    return [np.load(f, allow_pickle=False).astype(np.float32) for f in files]


def split_ids(n: int) -> dict[str, list[str]]:
    """The first ids of the real split lists, in HumanML3D's proportions, `n` in all."""
    lists = fixtures_dir() / "humanml3d" / "splits"
    out = {}
    for split, size in SPLIT_SHARES.items():
        ids = (lists / f"{split}.txt").read_text(encoding="utf-8").split()
        out[split] = ids[: max(1, round(n * size / HML_MOTIONS))]
    return out


def make_dataset(root: Path, n: int, seed: int = 0) -> int:
    """A HumanML3D-shaped folder of `n` motions under `root`; the number written."""
    rng = np.random.default_rng(seed)
    clips = [np.concatenate([c, c[::-1]]) for c in fixture_clips()]  # back and forth: no jump at the seam
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    splits = split_ids(n)
    written = 0
    for split, ids in splits.items():
        (root / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        for motion_id in ids:
            clip = clips[rng.integers(len(clips))]
            length = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1))
            start = int(rng.integers(0, len(clip) - length + 1)) if len(clip) > length else 0
            joints = np.resize(clip[start:], (length, 22, 3)) * rng.uniform(0.9, 1.1)
            joints = joints + rng.normal(0, 0.003, joints.shape)
            np.save(root / "new_joints" / f"{motion_id}.npy", joints.astype(np.float32))
            seconds = length / FPS
            span = f"{seconds * 0.2:.1f}", f"{seconds * 0.9:.1f}"
            third = CAPTIONS[2].format(*span if rng.random() < SPAN_SHARE else ("0.0", "0.0"))
            (root / "texts" / f"{motion_id}.txt").write_text("\n".join([*CAPTIONS[:2], third]) + "\n")
            written += 1
    all_ids = [i for ids in splits.values() for i in ids]
    (root / "all.txt").write_text("".join(f"{i}\n" for i in all_ids), encoding="utf-8")
    return written


def run_stage(args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak resident GiB of the child and its workers, last output line) of one stage.
    Each stage runs under a fresh Python parent so that its `RUSAGE_CHILDREN` is its own."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "print(p.stdout[-2000:] + p.stderr[-2000:], file=sys.stderr); sys.exit(p.returncode)"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "harness.cli", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    seconds, max_rss_kib = done.stdout.split()
    last = [line for line in done.stderr.splitlines() if line.strip() and "smd:" not in line]
    return float(seconds), int(max_rss_kib) / 2**20, last[-1] if last else ""


def size_mib(paths) -> float:
    return sum(p.stat().st_size for p in paths) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--motions", type=int, default=HML_MOTIONS, help=f"motions (default {HML_MOTIONS:,})")
    parser.add_argument("--workers", type=int, default=2, help="build-smd workers (default 2)")
    parser.add_argument("--keep", type=Path, help="make the folder here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_load.") as scratch:
        root = (args.keep or Path(scratch)) / "humanml3d"
        t0 = time.perf_counter()
        n = make_dataset(root, args.motions)
        made = time.perf_counter() - t0
        joints = size_mib(root.glob("new_joints/*.npy"))
        print(f"{n:,} motions ({joints:.0f} MiB of joints) made in {made:.0f} s")
        build = run_stage(["build-smd", str(root), "--workers", str(args.workers)])
        smd_dir = root / "smd"
        print(
            f"build-smd (10 presets, {args.workers} workers): {build[0]:.1f} s, peak RSS {build[1]:.2f} GiB; "
            f"SMD files {size_mib(smd_dir.glob('angle_texts_*.json')):.0f} MiB, "
            f"cache {size_mib([smd_dir / 'smd_cache.jsonl']):.0f} MiB\n  {build[2]}"
        )
        docs = run_stage(["make-docs", str(root), "--variant", "v5"])
        print(
            f"make-docs (v5, captions): {docs[0]:.1f} s, peak RSS {docs[1]:.2f} GiB; "
            f"docs {size_mib((root / 'docs').rglob('*.jsonl')):.0f} MiB\n  {docs[2]}"
        )
        print(f"peak RSS over both: {max(build[1], docs[1]):.2f} GiB; wall time {build[0] + docs[0]:.0f} s")


if __name__ == "__main__":
    main()

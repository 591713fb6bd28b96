"""SMD build stage: dataset motions x presets -> one SMD file per preset.

Each motion is analysed once and rendered for every preset, on all cores. Results are appended
to a cache (`smd_cache.jsonl`, one line per motion, flushed as it goes: a `harness.core.Journal`) keyed
by the motion file's content (sha256: a regenerated or copied file with the same bytes is the same motion,
and the cache, part of a DVC output, is the same bytes on every machine) and the SMD format version, so a
re-run after adding motions or after an interruption computes only what is missing. Outputs and the report
are written atomically; the SMD files and the compacted cache are written one motion at a time, read back
from the cache, so the build's memory does not grow with the dataset (`benchmarks/bench_load.py`).
A motion that cannot be described (missing or corrupt file, non-finite joints...) is recorded in
`build_report.json` with its id and file, and the build goes on with the rest.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import smd
from harness.core import (
    DataError,
    Journal,
    Problem,
    atomic_output,
    atomic_write_json,
    is_error,
    load_npy,
    sha256_file,
)

from .humanml3d import mirror_joints
from .layout import dataset_kind
from .smd_files import SMDFileWriter, smd_file_name

CACHE_NAME = "smd_cache.jsonl"
REPORT_NAME = "build_report.json"


@dataclass(frozen=True)
class MotionRef:
    """Where one motion (or a frame range of it) lives and how to read it."""

    motion_id: str
    path: str
    fps: float
    up_axis: str
    mirror: bool = False  # HumanML3D `M` ids without a file of their own: mirror the base motion
    start: int = 0
    end: int | None = None  # exclusive; None = to the end

    def key(self) -> str:
        """Changes whenever the file's content or the way it is read changes (never with its mtime)."""
        how = f"{int(self.mirror)}:{self.start}:{self.end}:{self.fps}:{self.up_axis}"
        return f"{sha256_file(self.path)}:{how}"


def load_motion(ref: MotionRef) -> np.ndarray:
    """Joints (T, 22, 3) of a reference, cropped and mirrored as it says."""
    joints = load_npy(ref.path)
    if joints.ndim == 3 and ref.mirror:
        joints = mirror_joints(joints)
    if ref.start or ref.end is not None:
        joints = joints[ref.start : ref.end]
    return joints


def describe_motion(ref: MotionRef, presets: tuple[str, ...]) -> dict[str, str]:
    """{preset: text} for one motion: one analysis, every preset rendered from it."""
    analysis = smd.analyze(load_motion(ref), fps=ref.fps, up_axis=ref.up_axis)
    return dict(zip(presets, smd.render_variants(analysis, presets)))


def _work(job: tuple[MotionRef, str, tuple[str, ...]]) -> tuple[str, str, dict | None, str | None]:
    ref, key, presets = job  # the key the build computed: hashing the file once is enough
    try:
        return ref.motion_id, key, describe_motion(ref, presets), None
    except (OSError, ValueError) as e:  # a bad motion is reported, never fatal
        return ref.motion_id, key, None, str(e)


@dataclass
class BuildReport:
    format_version: str
    presets: list[str]
    motions: int
    computed: int
    cached: int
    failed: list[dict]
    seconds: float
    motions_per_second: float  # computed motions / wall time of the computing part
    workers: int

    @property
    def errors(self) -> list[dict]:
        """The failures that are errors, not what a dataset's rules leave out."""
        return [p for p in self.failed if is_error(p)]

    @property
    def ok(self) -> bool:
        return not self.errors

    def record(self) -> dict:
        """What `build_report.json` holds: only what the inputs determine. Timing, worker count and the
        cache hits differ between runs of the same build, and the file is part of a DVC output whose hash
        must not change when the texts do not."""
        run_dependent = {"computed", "cached", "seconds", "motions_per_second", "workers"}
        return {k: v for k, v in asdict(self).items() if k not in run_dependent}


@dataclass(frozen=True)
class _CacheEntry:
    """What a build keeps in memory of a cache line: never its texts, which it reads back one motion at a
    time (`offset`: where the line starts in the cache file)."""

    key: str | None
    fmt: str | None
    presets: frozenset[str]
    offset: int


def _entry(row: dict, offset: int) -> _CacheEntry:
    texts = row.get("texts")
    presets = frozenset(texts if isinstance(texts, dict) else ())
    return _CacheEntry(row.get("key"), row.get("fmt"), presets, offset)


def _read_cache(path: Path) -> dict[str, _CacheEntry]:
    """motion_id -> its cache entry (the last line of an id wins); a line cut short by an interruption
    is ignored."""
    entries: dict[str, _CacheEntry] = {}
    if not path.exists():
        return entries
    offset = 0
    with path.open("rb") as f:
        for line in f:
            try:
                row = json.loads(line)
                entries[row["id"]] = _entry(row, offset)
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
                pass
            offset += len(line)
    return entries


def build_smd(
    refs: list[MotionRef],
    presets: tuple[str, ...] | list[str],
    out_dir: Path | str,
    *,
    workers: int | None = None,
    problems: list[Problem] | None = None,
) -> BuildReport:
    """Build (or complete) the SMD files of `refs` for `presets` in `out_dir`.

    Args:
        refs: motions to describe; ids must be unique.
        presets: SMD preset names.
        out_dir: receives `angle_texts_<preset>.json`, the cache and `build_report.json`.
        workers: processes (default: all cores).
        problems: problems found before the build (e.g. missing motion files), added to the report.
    """
    t_start = time.perf_counter()
    presets = tuple(presets)
    for p in presets:
        smd.resolve_variant(p)
    ids = [r.motion_id for r in refs]
    if len(set(ids)) != len(ids):
        raise ValueError("motion ids must be unique")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / CACHE_NAME
    cache = _read_cache(cache_path)
    failed = [p.to_dict() for p in (problems or [])]

    todo: list[tuple[MotionRef, str]] = []  # with each motion's cache key
    for ref in refs:
        entry = cache.get(ref.motion_id)
        try:
            key = ref.key()
        except OSError as e:
            failed.append(Problem(ref.path, ref.motion_id, str(e)).to_dict())
            continue
        fresh = (
            entry is not None
            and entry.key == key
            and entry.fmt == smd.FORMAT_VERSION
            and all(p in entry.presets for p in presets)
        )
        if not fresh:
            todo.append((ref, key))

    workers = max(1, min(workers or os.cpu_count() or 1, max(1, len(todo))))
    t_compute = time.perf_counter()
    computed = 0
    if todo:
        jobs = [(r, key, presets) for r, key in todo]
        paths = {r.motion_id: r.path for r, _ in todo}
        with Journal(cache_path) as journal:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.imap_unordered(
                    _work, jobs, chunksize=max(1, min(32, len(jobs) // (4 * workers)))
                )
                for motion_id, key, texts, error in tqdm(results, total=len(jobs), desc="smd", disable=None):
                    if error is not None:
                        failed.append(Problem(paths[motion_id], motion_id, error).to_dict())
                        cache.pop(motion_id, None)
                        continue
                    row = {"id": motion_id, "key": key, "fmt": smd.FORMAT_VERSION, "texts": texts}
                    cache[motion_id] = _entry(row, journal.append(json.dumps(row, ensure_ascii=False) + "\n"))
                    computed += 1
    compute_seconds = time.perf_counter() - t_compute

    good = sorted(
        r.motion_id
        for r in refs
        if r.motion_id in cache
        and cache[r.motion_id].fmt == smd.FORMAT_VERSION
        and all(p in cache[r.motion_id].presets for p in presets)
    )
    _write_outputs(out, presets, good, cache, cache_path)

    failed.sort(key=lambda d: (d["item"], d["source"]))
    report = BuildReport(
        format_version=smd.FORMAT_VERSION,
        presets=list(presets),
        motions=len(refs),
        computed=computed,
        cached=len(good) - computed,
        failed=failed,
        seconds=round(time.perf_counter() - t_start, 3),
        motions_per_second=round(computed / compute_seconds, 1) if computed and compute_seconds > 0 else 0.0,
        workers=workers,
    )
    atomic_write_json(out / REPORT_NAME, report.record())
    return report


def _write_outputs(
    out: Path, presets: tuple[str, ...], good: list[str], cache: dict[str, _CacheEntry], cache_path: Path
) -> None:
    """Every preset's SMD file and the compacted cache (only the entries of this build's motions), each
    written atomically and one motion at a time: a motion's line is read back from the cache and its texts
    go to every file before the next is read, so memory stays flat whatever the dataset's size."""
    with ExitStack() as stack:
        files = [stack.enter_context(SMDFileWriter(out / smd_file_name(p), p)) for p in presets]
        compacted = stack.enter_context(atomic_output(cache_path))
        journal = stack.enter_context(cache_path.open("rb")) if good else None
        for motion_id in good:
            journal.seek(cache[motion_id].offset)
            row = json.loads(journal.readline())
            for preset, file in zip(presets, files):
                file.add(motion_id, row["texts"][preset])
            compacted.write(json.dumps(row, ensure_ascii=False) + "\n")


def motion_refs(root: Path | str, splits: tuple[str, ...] = ("train", "val", "test")):
    """(refs, problems) of every motion a dataset's questions or caption samples need.

    QA: each motion referenced by a question, whole (Z-up, 30 fps). HumanML3D: each caption
    sample, whole clip or sub-span, as its own motion (Y-up, 20 fps).
    """
    from . import humanml3d, qa

    root = Path(root)
    problems: list[Problem] = []
    refs: list[MotionRef] = []
    if dataset_kind(root) == "qa":
        dataset = qa.load_qa(root)
        problems += dataset.problems
        for motion_id in sorted({q.motion_id for q in dataset.questions if q.split in splits}):
            try:
                path = qa.find_motion(root, motion_id)
            except (FileNotFoundError, ValueError) as e:  # missing, or an id that is no file name
                problems.append(Problem(str(root), motion_id, str(e)))
                continue
            refs.append(MotionRef(motion_id, str(path), qa.QA_FPS, qa.QA_UP_AXIS))
        return refs, problems
    for split in splits:
        samples, found = humanml3d.caption_samples(root, split)
        problems += found
        for s in samples:
            path, mirror = humanml3d.joints_file(root, s.motion_id)
            whole = s.sample_id == s.motion_id
            refs.append(
                MotionRef(
                    s.sample_id,
                    str(path),
                    humanml3d.HML_FPS,
                    humanml3d.HML_UP_AXIS,
                    mirror=mirror,
                    start=0 if whole else s.start_frame,
                    end=None if whole else s.end_frame,
                )
            )
    return refs, problems


def main(argv: list[str] | None = None) -> int:
    """`smd build-smd ROOT`: SMD files of a dataset for the given variants (default: all)."""
    import argparse

    from harness.core import OUTPUT_OPTION, VARIANT_OPTION, add_renamed_option

    parser = argparse.ArgumentParser(prog="smd build-smd", description=main.__doc__)
    parser.add_argument("root", type=Path, help="dataset folder (data/babel_qa, data/humanml3d, ...)")
    add_renamed_option(
        parser,
        VARIANT_OPTION + "s",
        old=("--presets",),
        nargs="+",
        default=list(smd.PRESETS),
        choices=list(smd.PRESETS),
        metavar="VARIANT",
        help=f"SMD variants to build (default: all of {', '.join(smd.PRESETS)})",
    )
    add_renamed_option(
        parser,
        *OUTPUT_OPTION,
        old=("--out",),
        type=Path,
        metavar="DIR",
        help="output folder (default: ROOT/smd)",
    )
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if any motion or question failed (not for those the dataset's rules leave out)",
    )
    args = parser.parse_args(argv)
    refs, problems = motion_refs(args.root)
    out = args.output or args.root / "smd"
    report = build_smd(refs, args.variants, out, workers=args.workers, problems=problems)
    errors = report.errors
    ruled = len(report.failed) - len(errors)
    print(
        f"{args.root}: {report.motions} motions, {report.computed} computed, {report.cached} cached, "
        f"{len(errors)} problems" + (f", {ruled} left out by the dataset's rules" if ruled else "")
        + f"; {report.motions_per_second} motions/s on {report.workers} workers; "
        f"{len(report.presets)} presets -> {out}"
    )  # fmt: skip
    for p in errors[:10]:
        print(f"  problem: {p['item']}: {p['source']}: {p['message']}")
    if len(errors) > 10:
        print(f"  ... {len(errors) - 10} more in {out / REPORT_NAME}")
    if report.computed + report.cached == 0:  # the report is written; an empty build is no success
        where = out / REPORT_NAME
        raise DataError(f"{args.root}: no motion could be described ({len(report.failed)} problems: {where})")
    return 1 if args.strict and errors else 0

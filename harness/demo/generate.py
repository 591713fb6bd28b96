"""Generate the synthetic demo benchmark in the real datasets' layouts.

    out/babel_qa/motion_sequences/<id>/joints.npy   float32 (T, 22, 3), Z up, 30 fps
    out/babel_qa/questions/imore_DEMO_{train,val,test}.json, split_question_ids.json,
                           imore_DEMO_answer_vocab.json (all answers used),
                           imore_DEMO_{action,body_part,direction}_answer_vocab.json
    out/babel_qa/labels.json                         {id: [{start_f, end_f, attributes}]} at 30 fps
    out/humanml3d/new_joints/<id>.npy               float32 (T, 22, 3), Y up, 20 fps, canonical frame
    out/humanml3d/texts/<id>.txt                    3 captions `caption#tokens#0.0#0.0`
    out/humanml3d/{train,val,test,train_val,all}.txt

`build_demo` is pure (seed -> arrays and records); `generate_demo` writes them, each file atomically
(through `harness.core`'s writer). The same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import smd
from harness.core import OUTPUT_OPTION, add_renamed_option, atomic_write_bytes, atomic_write_npy
from harness.data import DATASETS

from .compose import Motion, SegmentLabel, labels_json, random_motion, sample_motion, segment_labels
from .questions import (
    QUERY_TYPES,
    RELATIONS,
    VOCAB,
    Question,
    candidate_questions,
    captions,
    select_questions,
)

# the demo writes each dataset at the frame rate its real counterpart has (harness.data.registry)
QA_FPS, HML_FPS = DATASETS["babel_qa"].fps, DATASETS["humanml3d"].fps
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
QUESTIONS_PER_MOTION = 10 / 3  # ~2,000 questions for the default 600 motions
NAME = "DEMO"


@dataclass(frozen=True)
class DemoMotion:
    motion_id: str
    split: str
    motion: Motion
    segments: tuple[SegmentLabel, ...]
    captions: tuple[str, ...]


@dataclass(frozen=True)
class Demo:
    motions: tuple[DemoMotion, ...]
    questions: tuple[tuple[str, Question], ...]  # (question id, question)


def motion_id(i: int) -> str:
    return f"d{i:05d}"


def split_motions(n: int, rng: np.random.Generator) -> list[str]:
    """A split name per motion, ~70/15/15; with 3+ motions every split gets at least one."""
    n_val = max(1, round(n * SPLIT_FRACTIONS[1])) if n >= 3 else 0
    n_test = max(1, round(n * SPLIT_FRACTIONS[2])) if n >= 3 else 0
    names = ["val"] * n_val + ["test"] * n_test
    names = ["train"] * (n - len(names)) + names
    return [names[i] for i in rng.permutation(n)]


def build_demo(n_motions: int = 600, seed: int = 0) -> Demo:
    """Every motion, label, caption and question of a demo (no files). Motion i depends only on (seed, i)."""
    if n_motions < 1:
        raise ValueError(f"n_motions must be at least 1, got {n_motions}")
    rng = np.random.default_rng(seed)
    splits = split_motions(n_motions, rng)
    motions, candidates = [], []
    for i in range(n_motions):
        mid = motion_id(i)
        m_rng = np.random.default_rng([seed, i])
        motion = random_motion(m_rng)
        segments = tuple(segment_labels(motion))
        caps = tuple(captions(segments, m_rng))
        motions.append(DemoMotion(mid, splits[i], motion, segments, caps))
        candidates += candidate_questions(mid, labels_json(segments, QA_FPS), m_rng)
    chosen = select_questions(candidates, round(n_motions * QUESTIONS_PER_MOTION), rng)
    return Demo(tuple(motions), tuple((f"{k:06d}", q) for k, q in enumerate(chosen)))


def qa_joints(motion: Motion) -> np.ndarray:
    """BABEL-QA copy: 30 fps, Z up ((x, y, z) -> (x, -z, y)), root xy at the origin in frame 0, float32."""
    j = sample_motion(motion, QA_FPS)
    j[..., [0, 2]] -= j[0, 0, [0, 2]]
    return np.stack([j[..., 0], -j[..., 2], j[..., 1]], axis=-1).astype(np.float32)


def hml_joints(motion: Motion) -> np.ndarray:
    """HumanML3D copy: 20 fps, Y up, canonical frame (frame 0 faces +Z, root xz at the origin), float32."""
    joints = sample_motion(motion, HML_FPS)
    return smd.canonicalize(joints, HML_FPS, DATASETS["humanml3d"].up_axis).astype(np.float32)


# ---------------------------------------------------------------- writing


def _write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=4, ensure_ascii=False) + "\n").encode("utf-8"))


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    atomic_write_bytes(path, "".join(f"{line}\n" for line in lines).encode("utf-8"))


def _vocab(values: Sequence[str], start: int = 0) -> dict[str, int]:
    return {v: i for i, v in enumerate(values, start)}


_MOTION_NAME = re.compile(r"^d\d{5}(\.npy|\.txt)?$")


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete demo motions (names `dNNNNN[.npy|.txt]`) of an earlier, larger demo in `folder`."""
    if folder.is_dir():
        for path in folder.iterdir():
            if not _MOTION_NAME.match(path.name) or path.name.split(".")[0] in keep:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def write_demo(demo: Demo, out: Path) -> None:
    """Write every file of `demo` under `out` (see the module docstring); motions of an earlier
    demo written to the same folder that this one does not have are removed."""
    qa, hml = out / "babel_qa", out / "humanml3d"
    keep = {m.motion_id for m in demo.motions}
    for folder in (qa / "motion_sequences", hml / "new_joints", hml / "texts"):
        _remove_stale(folder, keep)
    for m in demo.motions:
        atomic_write_npy(qa / "motion_sequences" / m.motion_id / "joints.npy", qa_joints(m.motion))
        atomic_write_npy(hml / "new_joints" / f"{m.motion_id}.npy", hml_joints(m.motion))
        _write_lines(hml / "texts" / f"{m.motion_id}.txt", m.captions)
    _write_json(qa / "labels.json", {m.motion_id: labels_json(m.segments, QA_FPS) for m in demo.motions})

    split_of = {m.motion_id: m.split for m in demo.motions}
    rows = {s: [] for s in SPLITS}
    for qid, q in demo.questions:
        rows[split_of[q.motion_id]].append([qid, q.question, list(q.program), q.motion_id, q.answer])
    qdir = qa / "questions"
    for s in SPLITS:
        _write_json(qdir / f"imore_{NAME}_{s}.json", rows[s])
    _write_json(qdir / "split_question_ids.json", {s: [r[0] for r in rows[s]] for s in SPLITS})
    used = {q.answer for _, q in demo.questions}
    everything = [v for kind in QUERY_TYPES for v in VOCAB[kind] if v in used]
    _write_json(qdir / f"imore_{NAME}_answer_vocab.json", _vocab(everything, start=1))
    for kind in QUERY_TYPES:
        _write_json(qdir / f"imore_{NAME}_{kind}_answer_vocab.json", _vocab(VOCAB[kind]))

    ids = {s: [m.motion_id for m in demo.motions if m.split == s] for s in SPLITS}
    for s in SPLITS:
        _write_lines(hml / f"{s}.txt", ids[s])
    _write_lines(hml / "train_val.txt", ids["train"] + ids["val"])
    _write_lines(hml / "all.txt", [m.motion_id for m in demo.motions])


def summarize(demo: Demo) -> dict:
    """Counts of motions, segments and questions (by type, relation, split) of a demo."""
    split_of = {m.motion_id: m.split for m in demo.motions}
    qs = [q for _, q in demo.questions]
    kinds = Counter(seg.kind for m in demo.motions for seg in m.segments)
    return {
        "motions": len(demo.motions),
        "segments": sum(len(m.segments) for m in demo.motions),
        "seconds_of_motion": round(sum(m.motion.duration for m in demo.motions), 1),
        "questions": len(qs),
        "questions_by_type": {t: sum(q.query_type == t for q in qs) for t in QUERY_TYPES},
        "questions_by_relation": {r: sum(q.relation == r for q in qs) for r in RELATIONS},
        "questions_by_type_relation": {
            f"{t}/{r}": sum(q.query_type == t and q.relation == r for q in qs)
            for t in QUERY_TYPES
            for r in RELATIONS
        },
        "motions_by_split": {s: sum(m.split == s for m in demo.motions) for s in SPLITS},
        "questions_by_split": {s: sum(split_of[q.motion_id] == s for q in qs) for s in SPLITS},
        "segments_by_kind": dict(sorted(kinds.items())),
    }


def generate_demo(out: Path, *, n_motions: int = 600, seed: int = 0) -> dict:
    """Build and write a demo under `out`; returns `summarize(...)` plus `out` and `elapsed_s`."""
    start = time.perf_counter()
    demo = build_demo(n_motions, seed)
    write_demo(demo, Path(out))
    return {**summarize(demo), "out": str(out), "elapsed_s": round(time.perf_counter() - start, 2)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="smd make-demo", description="Generate the synthetic SMD demo benchmark."
    )
    add_renamed_option(
        parser,
        *OUTPUT_OPTION,
        old=("--out",),
        type=Path,
        default=Path("data/demo"),
        metavar="DIR",
        help="output folder (default: data/demo)",
    )
    parser.add_argument("--motions", type=int, default=600, help="number of motions (default: 600)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    if args.motions < 1:
        parser.error("--motions must be at least 1")
    summary = generate_demo(args.output, n_motions=args.motions, seed=args.seed)
    print(json.dumps(summary, indent=2))
    n, q, secs = summary["motions"], summary["questions"], summary["elapsed_s"]
    print(f"generated {n} motions and {q} questions in {secs}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

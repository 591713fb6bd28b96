"""Prompt docs: one JSONL per dataset / docs variant / split, the input of training and lm-eval.

QA:       doc_id, motion_id, smd, question, options, answer_idx, answer, answer_type, relation
captions: doc_id, motion_id, smd, references (every reference of the sample; sub-spans are their
          own samples, described by the SMD of their own frames)
both:     smd_format, smd_preset: the format version and preset of the SMD text (harness.data.smd_files,
          the format contract)

A docs variant is an SMD preset (`v5_top3`), `motion` (the encoder baseline's: a `<motion:ID>` marker
stands where the SMD stands, for the motions an SMD build described, so that both score the same
docs), or the motion-blind control of either (`v5_top3-blind`, `motion-blind`): the same
docs with each SMD replaced by the SMD of another motion of the same split, by a seeded derangement.
The control keeps the prompts' length and text distribution and every question and answer, and
removes the motion: what a model scores on it is what it gets from the question, the options and the
SMD's form alone, so real minus control is what it reads from the motion. Control docs also carry
`smd_source`, the doc whose SMD they show.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from harness.core import DataError, Problem

from .layout import BLIND_SUFFIX, MOTION_VARIANT, dataset_kind, docs_path, docs_variant

__all__ = [
    "blind_control",
    "caption_docs",
    "main",
    "qa_docs",
    "swap_partners",
]


def qa_docs(rows: Iterable[dict], texts: dict[str, str], source: str) -> tuple[list[dict], list[Problem]]:
    """QA docs from 10-option rows and `{motion_id: smd}`; a question without an SMD is a Problem."""
    docs, problems = [], []
    for r in rows:
        text = texts.get(r["motion_id"])
        if text is None:
            problems.append(Problem(source, r["question_id"], f"no SMD for motion {r['motion_id']}"))
            continue
        docs.append(
            {
                "doc_id": r["question_id"],
                "motion_id": r["motion_id"],
                "smd": text,
                "question": r["question"],
                "options": list(r["options"]),
                "answer_idx": r["answer_idx"],
                "answer": r["answer"],
                "answer_type": r["answer_type"],
                "relation": r["relation"],
            }
        )
    return docs, problems


def caption_docs(samples: Iterable, texts: dict[str, str], source: str) -> tuple[list[dict], list[Problem]]:
    """Caption docs from caption samples and `{sample_id: smd}`."""
    docs, problems = [], []
    for s in samples:
        text = texts.get(s.sample_id)
        if text is None:
            problems.append(Problem(source, s.sample_id, f"no SMD for sample {s.sample_id}"))
            continue
        refs = [c.text.strip() for c in s.captions]
        docs.append({"doc_id": s.sample_id, "motion_id": s.motion_id, "smd": text, "references": refs})
    return docs, problems


def swap_partners(groups: dict[str, str], seed: str) -> dict[str, str]:
    """A derangement of the keys of `groups` (key -> group) in which no key's partner shares its group.

    Groups are laid out contiguously in a seeded random order and every key takes the key `m` places
    ahead (cyclically), `m` being the largest group: with at least 2m keys that is always another group.
    Groups exist because some keys are one motion: a HumanML3D clip, its mirrored `M` copy and its
    captioned sub-spans; a control that showed a motion its own mirror image would still hold the motion.
    """
    by_group: dict[str, list[str]] = {}
    for key in sorted(groups):
        by_group.setdefault(groups[key], []).append(key)
    widest = max((len(v) for v in by_group.values()), default=0)
    if len(groups) < 2 * widest or len(by_group) < 2:
        raise ValueError(
            f"a motion-blind control needs at least two motions and no motion holding half the docs' "
            f"SMDs ({len(groups)} SMDs, {len(by_group)} motions, the largest with {widest})"
        )
    rng = random.Random(seed)  # a string seed: the same on every machine and Python version
    order = sorted(by_group)
    rng.shuffle(order)
    keys = [k for g in order for k in by_group[g]]
    return {k: keys[(i + widest) % len(keys)] for i, k in enumerate(keys)}


def blind_control(docs: list[dict], seed: str, *, mirror_prefix: str | None = None) -> list[dict]:
    """The motion-blind control of one split's docs: each SMD swapped for another motion's.

    QA docs are keyed by motion (every question on a motion sees the same other motion), caption docs
    by sample (a sub-span has its own SMD). `mirror_prefix` (HumanML3D's `M`) marks mirrored copies,
    grouped with their base motion.
    """
    from .humanml3d import mirror_base

    key_field = "motion_id" if docs and "options" in docs[0] else "doc_id"
    smd, groups = {}, {}
    for d in docs:
        key = d[key_field]
        smd.setdefault(key, d["smd"])
        motion = d["motion_id"]
        if mirror_prefix:
            motion = mirror_base(motion, mirror_prefix) or motion
        groups[key] = motion
    partner = swap_partners(groups, seed) if docs else {}
    return [{**d, "smd": smd[partner[d[key_field]]], "smd_source": partner[d[key_field]]} for d in docs]


def main(argv: list[str] | None = None) -> int:
    """`smd make-docs ROOT --variant V`: prompt docs of every split for one SMD variant, or with
    `--variant V-blind` its motion-blind control (each SMD swapped for another motion's of the split)."""
    import argparse

    from harness.core import (
        VARIANT_OPTION,
        add_renamed_option,
        atomic_write_json,
        atomic_write_jsonl,
        read_json,
    )

    from .marker import MOTION_FORMAT, motion_marker
    from .smd_files import load_smd_file, smd_file_name

    parser = argparse.ArgumentParser(prog="smd make-docs", description=main.__doc__)
    parser.add_argument("root", type=Path, help="dataset folder")
    add_renamed_option(
        parser,
        VARIANT_OPTION,
        old=("--preset",),
        default="v5",
        help=f"SMD variant (default v5), or V{BLIND_SUFFIX} for its motion-blind control",
    )
    parser.add_argument("--smd", type=Path, help="SMD file (default ROOT/smd/angle_texts_<variant>.json)")
    parser.add_argument(
        "--control-seed",
        type=int,
        default=0,
        help="seed of the motion-blind control's derangement (default 0)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if any doc was skipped for a problem (not by the dataset's rules)",
    )
    args = parser.parse_args(argv)
    try:
        preset, blind = docs_variant(args.variant)
    except ValueError as e:
        parser.error(str(e))
    if preset == MOTION_VARIANT:  # the encoder baseline: the motions an SMD build described, as markers
        smd_path = args.smd or next(iter(sorted((args.root / "smd").glob(smd_file_name("*")))), None)
        if smd_path is None:
            raise DataError(f"{args.root / 'smd'}: no SMD file (run `smd build-smd {args.root}` first)")
        texts = {key: motion_marker(key) for key in load_smd_file(smd_path).texts}
        contract = {"smd_format": MOTION_FORMAT, "smd_preset": MOTION_VARIANT}
    else:
        smd_path = args.smd or args.root / "smd" / smd_file_name(preset)
        if not smd_path.is_file():  # the usual cause: this variant was not built; say how to build it
            build = f"smd build-smd {args.root} --variants {preset}"
            raise DataError(
                f"{smd_path}: no such SMD file"
                + ("" if args.smd else f" (variant {preset} was not built: run `{build}`)")
            )
        smd_file = load_smd_file(smd_path)
        if smd_file.preset != preset:  # the format contract: the docs say which variant they hold
            parser.error(f"{smd_path} holds SMD variant {smd_file.preset!r}, not --variant {preset!r}")
        texts = smd_file.texts
        contract = {"smd_format": smd_file.format_version, "smd_preset": smd_file.preset}
    problems: list[Problem] = []
    counts = {}
    for split in ("train", "val", "test"):
        if dataset_kind(args.root) == "qa":
            rows = read_json(args.root / "questions_10opt" / f"{split}.json")
            docs, found = qa_docs(rows, texts, str(smd_path))
        else:
            from . import humanml3d

            samples, found = humanml3d.caption_samples(args.root, split)
            problems += found
            docs, found = caption_docs(samples, texts, str(smd_path))
        problems += found
        if blind:
            from .humanml3d import MIRROR_PREFIX

            mirror = None if dataset_kind(args.root) == "qa" else MIRROR_PREFIX
            docs = blind_control(docs, f"{args.control_seed}:{split}", mirror_prefix=mirror)
        docs = [{**d, **contract} for d in docs]
        atomic_write_jsonl(docs_path(args.root, args.variant, split), docs)
        counts[split] = len(docs)
    report = {
        # the data format says "preset" (SMD files, the docs' smd_preset): renamed together, with a re-run
        "preset": args.variant,
        **({"control_seed": args.control_seed} if blind else {}),
        "smd": str(smd_path),
        **contract,
        "docs": counts,
        "problems": [p.to_dict() for p in problems],
    }
    atomic_write_json(docs_path(args.root, args.variant, "report").with_suffix(".json"), report)
    print(f"{args.root} {args.variant}: docs {counts}, {len(problems)} skipped")
    if not any(counts.values()):  # the report is written; docs of nothing are no success
        where = docs_path(args.root, args.variant, "report").with_suffix(".json")
        raise DataError(f"{args.root}: no doc for variant {args.variant} in any split (see {where})")
    return 1 if args.strict and any(p.kind == "error" for p in problems) else 0

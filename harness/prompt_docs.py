"""Prompt docs: one JSONL per dataset / preset / split, the input of training and lm-eval.

QA:       doc_id, motion_id, smd, question, options, answer_idx, answer, answer_type, relation
captions: doc_id, motion_id, smd, references (every reference of the sample; sub-spans are their
          own samples, described by the SMD of their own frames)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .problems import Problem


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


def docs_path(root: Path | str, preset: str, split: str) -> Path:
    return Path(root) / "docs" / preset / f"{split}.jsonl"


def main(argv: list[str] | None = None) -> int:
    """`smd make-docs ROOT --preset P`: prompt docs of every split for one SMD preset."""
    import argparse

    from .build_smd import dataset_kind
    from .io import atomic_write_json, atomic_write_jsonl, read_json
    from .smd_files import load_smd_file, smd_file_name

    parser = argparse.ArgumentParser(prog="smd make-docs", description=main.__doc__)
    parser.add_argument("root", type=Path, help="dataset folder")
    parser.add_argument("--preset", default="v5", help="SMD preset (default v5)")
    parser.add_argument("--smd", type=Path, help="SMD file (default ROOT/smd/angle_texts_<preset>.json)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any doc was skipped")
    args = parser.parse_args(argv)
    smd_path = args.smd or args.root / "smd" / smd_file_name(args.preset)
    texts = load_smd_file(smd_path).texts
    problems: list[Problem] = []
    counts = {}
    for split in ("train", "val", "test"):
        if dataset_kind(args.root) == "qa":
            rows = read_json(args.root / "questions_10opt" / f"{split}.json")
            docs, found = qa_docs(rows, texts, str(smd_path))
        else:
            from .datasets import humanml3d

            samples, found = humanml3d.caption_samples(args.root, split)
            problems += found
            docs, found = caption_docs(samples, texts, str(smd_path))
        problems += found
        atomic_write_jsonl(docs_path(args.root, args.preset, split), docs)
        counts[split] = len(docs)
    report = {
        "preset": args.preset,
        "smd": str(smd_path),
        "docs": counts,
        "problems": [p.to_dict() for p in problems],
    }
    atomic_write_json(docs_path(args.root, args.preset, "report").with_suffix(".json"), report)
    print(f"{args.root} {args.preset}: docs {counts}, {len(problems)} skipped")
    return 1 if args.strict and problems else 0

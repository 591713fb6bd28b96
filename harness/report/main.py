"""`smd report`: a static, self-contained HTML case viewer of one evaluation, or of two side by side.

    smd report CELL_A [CELL_B] -o OUT.html [--docs DOCS.jsonl] [--data-root ROOT]
               [--page-size 20] [--fps-out 10] [--limit N]

CELL is a results cell (`results/demo_babel_qa/v5_top3/tiny+lora.json`): its provenance names the
per-doc samples (their sha256 is checked), the docs they were scored on and the dataset root that
holds the joints. CELL may also be a samples file (`runs/demo/eval_samples/.../tiny+lora.jsonl`) with
`--docs`; the root is then the docs' dataset folder (`<root>/docs/<variant>/<split>.jsonl`) unless
`--data-root` names another.

Per doc the page shows the motion as an animated stick figure (play / pause / scrub, the SMD lines
whose time span holds the current frame highlighted), the SMD, the question with its options, the gold
answer and each cell's answer, right or wrong (captions: each cell's caption beside the references);
at the top each cell's numbers and the per-type summary; filters (wrong only, query type, relation,
disagreements of two cells) and a search by id, all mirrored in the URL's hash (`#wrong&type=action`)
so a filtered view can be linked. Only one page of cases is drawn at a time.

Size: the page embeds everything (no network), so each motion's joints are resampled to `--fps-out`
frames per second and rounded to whole centimetres (`harness.report.cases.encode_motion`), once per
motion however many questions ask about it; an SMD text is stored once. `--limit` bounds a large run.
A doc whose motion is missing is shown without a figure and counted on the page and on stderr. The
page itself (markup, style, script) is `harness/report/page.html`, shipped as package data.

Exit status: 0 written; 2 bad input (an unreadable file, a cell without provenance or with altered
samples, two cells scored on different docs).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from harness.core import atomic_write_text, positive_int, read_json, read_jsonl, read_yaml, sha256_file
from harness.data import DATASETS, TASKS, Dataset, dataset_kind, load_canonical
from harness.results import cell_key, parse_cell_path, provenance_path
from smd.skeleton import JOINT_NAMES, KINEMATIC_CHAINS

from .cases import build_cases, encode_motion, line_spans, motion_key, summarize

__all__ = ["Evaluation", "ReportError", "build_report", "load_evaluation", "main", "render_page"]

EXIT_BAD_INPUT = 2
DEFAULT_FPS_OUT = 10.0
DEFAULT_PAGE_SIZE = 20


class ReportError(ValueError):
    """A user-facing input error (exit 2): `file: what`."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation's per-doc samples and where its docs and joints are."""

    label: str
    samples: Path
    docs: Path
    root: Path
    dataset: Dataset
    rows: dict[str, dict]
    metrics: dict[str, Any] = field(default_factory=dict)  # the cell's numbers, when given a cell


# ---------------------------------------------------------------- inputs


def _recorded(value: Any, cell: Path, what: str, prov: Path) -> Path:
    """A path a provenance records: as written (from the current folder), else from the folder that
    holds the results folder (where `smd evaluate` ran)."""
    if not isinstance(value, str) or not value:
        raise ReportError(prov, f"no {what} path recorded")
    path = Path(value)
    if path.is_absolute() or len(cell.parents) < 3:
        return path
    return next((p for p in (path, cell.parents[2].parent / path) if p.exists()), path)


def _rebuild_hint(missing: Path, lock: Path = Path("dvc.lock")) -> str:
    """`; rebuild it: dvc repro STAGE` when a stage of the project's dvc.lock outputs `missing` (a fresh
    clone has the cells and their samples, not the pipeline's data), else nothing."""
    try:
        stages = (read_yaml(lock, "dvc.lock") or {}).get("stages") or {}
    except (OSError, ValueError):
        return ""
    for name, stage in stages.items():
        for out in (stage or {}).get("outs") or []:
            produced = Path(str(out.get("path", "")))
            if produced.parts and (missing == produced or produced in missing.parents):
                return f"; rebuild it: dvc repro {name}"
    return ""


def _read_rows(path: Path) -> dict[str, dict]:
    try:
        rows = read_jsonl(path)
    except OSError as e:
        raise ReportError(path, e.strerror or str(e)) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ReportError(path, str(e).removeprefix(f"{path}: ")) from None
    by_id: dict[str, dict] = {}
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or "id" not in row:
            raise ReportError(path, f"line {n}: not a samples row (no `id`)")
        by_id[str(row["id"])] = row
    if not by_id:
        raise ReportError(path, "no samples")
    return by_id


def _dataset_of(root: Path, task: Any) -> Dataset:
    if task in TASKS:
        return TASKS[task]
    try:
        kind = "qa" if dataset_kind(root) == "qa" else "caption"
    except ValueError as e:  # DataError: the root holds neither layout
        raise ReportError(root, str(e).removeprefix(f"{root}: ")) from None
    # the QA datasets share their frame rate and axes, so the first of a kind describes its files
    return next(d for d in DATASETS.values() if d.kind == kind)


def load_evaluation(spec: str, docs: Path | None = None, root: Path | None = None) -> Evaluation:
    """A results cell (via its provenance) or a samples file (with `docs`), checked and read.

    Raises:
        ReportError: a missing or unreadable file, no provenance, samples that are not the cell's.
    """
    path = Path(spec)
    if not path.is_file():
        raise ReportError(path, "no such file")
    metrics: dict[str, Any] = {}
    task = None
    if path.suffix == ".json":
        prov_file = provenance_path(path)
        try:
            metrics, prov = read_json(path), read_json(prov_file)
        except OSError as e:
            raise ReportError(e.filename or prov_file, e.strerror or str(e)) from None
        except ValueError as e:
            raise ReportError(path, str(e)) from None
        if not isinstance(prov, dict) or not isinstance(prov.get("samples"), dict):
            raise ReportError(prov_file, "no `samples` entry (re-run `smd evaluate` for this cell)")
        samples = _recorded(prov["samples"].get("path"), path, "samples", prov_file)
        if not samples.is_file():
            raise ReportError(samples, f"no such file (the samples {prov_file} names)")
        if prov["samples"].get("sha256") not in (None, sha256_file(samples)):
            raise ReportError(samples, f"altered since {prov_file} recorded it (not this cell's samples)")
        data = prov.get("data") or {}
        docs = docs or _recorded((data.get("docs") or {}).get("path"), path, "docs", prov_file)
        root = root or _recorded(data.get("root"), path, "data root", prov_file)
        task = (prov.get("inputs") or {}).get("task")
        try:
            label = cell_key(*parse_cell_path(path.parents[2], path))
        except (ValueError, IndexError):
            label = str(path)
    else:
        samples, label = path, path.stem
        if docs is None:
            raise ReportError(path, "a samples file needs --docs (or give the cell's .json instead)")
        root = root or (docs.parents[2] if len(docs.parents) >= 3 else docs.parent)
    if not Path(docs).is_file():
        raise ReportError(
            docs, "no such file (the docs the samples were scored on)" + _rebuild_hint(Path(docs))
        )
    rows = _read_rows(samples)
    return Evaluation(label, samples, Path(docs), Path(root), _dataset_of(Path(root), task), rows, metrics)


def build_report(
    evaluations: list[Evaluation],
    docs: list[dict],
    *,
    fps_out: float = DEFAULT_FPS_OUT,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = None,
) -> dict[str, Any]:
    """The page's data: cases, their motions and SMD texts (each once), the summary, what is missing."""
    first = evaluations[0]
    kind = first.dataset.kind
    by_id = {str(d.get("doc_id")): d for d in docs}
    cases = build_cases(docs, [e.rows for e in evaluations])[:limit]
    texts: dict[str, int] = {}
    motions: dict[str, dict | None] = {}
    missing: dict[str, str] = {}
    for case in cases:
        doc = by_id[case["id"]]
        text = str(doc.get("smd", ""))
        case["smd"] = texts.setdefault(text, len(texts))
        key = motion_key(doc, kind)
        if key not in motions:
            try:
                joints = load_canonical(first.root, first.dataset, doc)
                motions[key] = encode_motion(joints, first.dataset.fps, fps_out)
            except (OSError, ValueError) as e:  # shown without a figure, and counted
                motions[key], missing[key] = None, str(e)
        case["motion"] = key if motions[key] is not None else None
    unknown = sorted(set().union(*(e.rows for e in evaluations)) - set(by_id))
    # a chain's colour says its side, read from the name of the joint it ends in
    sides = [
        next((side for side in ("left", "right") if side in JOINT_NAMES[c[-1]]), "centre")
        for c in KINEMATIC_CHAINS
    ]
    return {
        "kind": kind,
        "dataset": first.dataset.title,
        "cells": [{"label": e.label, "samples": str(e.samples), "metrics": e.metrics} for e in evaluations],
        "docs": str(first.docs),
        "page_size": page_size,
        "chains": [list(c) for c in KINEMATIC_CHAINS],
        "chain_sides": sides,
        "summary": summarize(cases, len(evaluations)),
        "cases": cases,
        "texts": [{"text": t, "spans": line_spans(t)} for t in texts],
        "motions": {k: m for k, m in motions.items() if m is not None},
        "missing": missing,
        "unknown_samples": unknown,
    }


def render_page(report: dict[str, Any]) -> str:
    """The complete HTML page of a report: `report_page.html` with its title and data filled in."""
    page = resources.files("harness.report").joinpath("page.html").read_text(encoding="utf-8")
    title = html.escape("smd report: " + " vs ".join(c["label"] for c in report["cells"]))
    # `<` escaped inside the JSON: no text in the data (an SMD, a caption) can close the script tag
    data = json.dumps(report, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace(
        "<", "\\u003c"
    )
    head, tail = page.split("__DATA__", 1)  # the data last: nothing in it is taken for a placeholder
    return head.replace("__TITLE__", title, 1) + data + tail


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """`smd report CELL_A [CELL_B] -o OUT.html`: a self-contained HTML case viewer."""
    p = argparse.ArgumentParser(prog="smd report", description=main.__doc__)
    p.add_argument(
        "cells", nargs="+", metavar="CELL", help="a cell (.json) or a samples file (.jsonl); two: A B"
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.html", help="the page to write")
    p.add_argument("--docs", type=Path, help="the docs a samples file was scored on (a cell records its own)")
    p.add_argument("--data-root", type=Path, help="the dataset folder holding the joints (default: recorded)")
    p.add_argument("--page-size", type=positive_int, default=DEFAULT_PAGE_SIZE, help="cases drawn per page")
    p.add_argument(
        "--fps-out", type=float, default=DEFAULT_FPS_OUT, help="frames per second kept (default 10)"
    )
    p.add_argument("--limit", type=positive_int, help="the first N docs only (a smaller page)")
    args = p.parse_args(argv)
    if len(args.cells) > 2:
        p.error("one cell, or two to compare side by side")
    if not args.fps_out > 0:
        p.error("--fps-out must be positive")
    try:
        evaluations = [load_evaluation(c, args.docs, args.data_root) for c in args.cells]
        if len(evaluations) == 2 and evaluations[0].docs.resolve() != evaluations[1].docs.resolve():
            a, b = evaluations
            if sha256_file(a.docs) != sha256_file(b.docs):
                raise ReportError(
                    b.docs, f"B was scored on other docs than A ({a.docs}): compare cells on the same docs"
                )
        try:
            docs = read_jsonl(evaluations[0].docs)
        except (OSError, ValueError) as e:
            raise ReportError(evaluations[0].docs, str(e).removeprefix(f"{evaluations[0].docs}: ")) from None
        report = build_report(
            evaluations, docs, fps_out=args.fps_out, page_size=args.page_size, limit=args.limit
        )
        atomic_write_text(args.output, render_page(report))
        args.output.chmod(0o644)  # a page to share or serve, not a private temporary file
    except ReportError as e:
        print(f"smd report: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        print(f"smd report: error: {e.filename or args.output}: {e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if report["missing"]:
        some = ", ".join(list(report["missing"])[:5])
        print(
            f"smd report: {len(report['missing'])} motions without joints, shown without a figure: {some}",
            file=sys.stderr,
        )
    if report["unknown_samples"]:
        n = len(report["unknown_samples"])
        print(f"smd report: {n} samples without a doc in {report['docs']}, left out", file=sys.stderr)
    mib = args.output.stat().st_size / 2**20
    print(f"{args.output}: {len(report['cases'])} cases, {len(report['motions'])} motions, {mib:.2f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

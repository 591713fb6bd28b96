"""The pure core of `smd report` (`harness.report`): a doc's motion as the page stores it, an SMD's
time-stamped lines, each cell's answer to a doc, the disagreements of two cells and the per-type table.

Joints are stored small, since the page embeds every case: every `step`-th frame (the nearest whole
step to the frame rate asked for), in whole centimetres, each frame as its change from the one before
(mostly one- or two-digit integers), flattened; `decode_motion` is what the page's script computes.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from harness.data import ANSWER_TYPES, LETTERS, RELATIONS, extract_option

__all__ = [
    "answer",
    "build_cases",
    "decode_motion",
    "disagree",
    "encode_motion",
    "line_spans",
    "motion_key",
    "summarize",
]

CM_PER_M = 100
# an SMD segment's time span, as smd.render prints it: `[1.5s–4.0s]`
_SPAN = re.compile(r"\[(\d+(?:\.\d+)?)s\u2013(\d+(?:\.\d+)?)s\]")


# ---------------------------------------------------------------- motions


def encode_motion(joints: np.ndarray, fps: float, fps_out: float) -> dict[str, Any]:
    """Canonical joints `(T, 22, 3)` in metres as the page stores them: every `step`-th frame (the
    nearest whole step to `fps_out`), in whole centimetres, each frame as its change from the frame
    before (the first as is), flattened: `{"fps", "n", "d"}`."""
    step = max(1, round(fps / fps_out))
    cm = np.rint(np.asarray(joints, dtype=float)[::step] * CM_PER_M).astype(np.int64)
    flat = cm.reshape(len(cm), -1)
    deltas = np.diff(flat, axis=0, prepend=np.zeros((1, flat.shape[1]), dtype=np.int64))
    return {"fps": fps / step, "n": len(cm), "d": deltas.ravel().tolist()}


def decode_motion(motion: dict[str, Any]) -> np.ndarray:
    """The inverse of `encode_motion` (what the page's script computes): `(n, 22, 3)` in metres."""
    d = np.asarray(motion["d"], dtype=np.int64).reshape(motion["n"], -1)
    return np.cumsum(d, axis=0).reshape(motion["n"], -1, 3) / CM_PER_M


def motion_key(doc: dict, kind: str) -> str:
    """Which joints a doc shows: a QA doc its motion's, a caption doc its own sample's (a sub-span)."""
    motion_id = str(doc.get("motion_id", ""))
    return motion_id if kind == "qa" else str(doc.get("doc_id", motion_id))


def line_spans(smd_text: str) -> list[list[float] | None]:
    """Per line of an SMD, the `[t0, t1]` seconds of its segment, or None (headers, `throughout`)."""
    spans: list[list[float] | None] = []
    for line in smd_text.split("\n"):
        m = _SPAN.search(line)
        spans.append([float(m[1]), float(m[2])] if m else None)
    return spans


# ---------------------------------------------------------------- cases


def answer(row: dict | None, doc: dict) -> dict[str, Any] | None:
    """One cell's answer to a doc: the raw `text`, the option it names (`choice`, None when it names
    none) and `correct` (QA: the sample's `acc`); None when the cell did not score the doc."""
    if row is None:
        return None
    text = str(row.get("prediction", ""))
    if "options" not in doc:
        return {"text": text.strip()}
    if "loglikelihoods" in row:  # a log-likelihood scoring records the best option's letter
        choice = LETTERS.index(text) if text in LETTERS[: len(doc["options"])] else None
    else:
        choice = extract_option(text, doc["options"])
    correct = row.get("acc", int(choice == doc.get("answer_idx")))
    return {"text": text, "choice": choice, "correct": int(correct)}


def disagree(answers: list[dict | None]) -> bool:
    """Two cells answered differently: another option (QA), another caption text."""
    if len(answers) != 2 or None in answers:
        return False
    a, b = answers
    return a.get("choice", a["text"]) != b.get("choice", b["text"])


def build_cases(docs: list[dict], cells: list[dict[str, dict]]) -> list[dict]:
    """The page's cases: every doc some cell scored (`cells`: each cell's samples rows by doc id), in
    docs order, without their SMD text and joints (`harness.report.main.build_report` adds those)."""
    cases = []
    for doc in docs:
        doc_id = str(doc.get("doc_id"))
        rows = [cell.get(doc_id) for cell in cells]
        if all(r is None for r in rows):
            continue
        answers = [answer(r, doc) for r in rows]
        case = {"id": doc_id, "motion_id": str(doc.get("motion_id", "")), "answers": answers}
        if "options" in doc:
            case |= {
                "question": doc.get("question", ""),
                "options": list(doc["options"]),
                "gold": doc.get("answer_idx"),
                "type": doc.get("answer_type", ""),
                "relation": doc.get("relation", ""),
            }
        else:
            case["refs"] = list(doc.get("references") or [])
        if len(cells) == 2:
            case["disagree"] = int(disagree(answers))
        cases.append(case)
    return cases


def summarize(cases: list[dict], n_cells: int) -> list[dict[str, Any]]:
    """The per-type table: per group (all, each answer type, each relation) the docs, each cell's
    correct answers (QA) or distinct captions and mean words (captions), and the disagreements."""
    groups: list[tuple[str, str, list[dict]]] = [("all", "all", cases)]
    if cases and "options" in cases[0]:
        groups += [("type", t, [c for c in cases if c["type"] == t]) for t in ANSWER_TYPES]
        groups += [("relation", r, [c for c in cases if c["relation"] == r]) for r in RELATIONS]
    table = []
    for group, name, members in groups:
        if not members:
            continue
        row: dict[str, Any] = {"group": group, "name": name, "n": len(members)}
        answered = [[c["answers"][i] for c in members if c["answers"][i]] for i in range(n_cells)]
        if "options" in members[0]:
            row["scored"] = [len(a) for a in answered]
            row["correct"] = [sum(x["correct"] for x in a) for a in answered]
            row["invalid"] = [sum(x["choice"] is None for x in a) for a in answered]
        else:
            row["distinct"] = [len({x["text"] for x in a}) for a in answered]
            row["words"] = [
                round(float(np.mean([len(x["text"].split()) for x in a])), 1) if a else 0 for a in answered
            ]
        if n_cells == 2:
            row["disagree"] = sum(c["disagree"] for c in members)
        table.append(row)
    return table

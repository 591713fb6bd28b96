"""Corpus-level caption scores, and the offline scorer `smd score-captions`.

    smd score-captions FILE [--references REFS.json] [--skip-missing] [--filter NAME]
                            [--bertscore-model PATH] [--evaluator DIR --motions DIR] [--seed N]

FILE is either a JSONL of `{"id", "prediction", "references": [...]}` lines (`references` and an
optional `motion_id` may be left out), or an lm-eval `samples_<task>_<date>.jsonl` (lm-eval 0.4.13:
one line per doc and filter, with `doc` (our caption docs: `doc_id`, `motion_id`, `references`),
`filter`, `resps` (a list per request of the raw generations) and `filtered_resps` (a list per request
of the filtered generation)). Prints one JSON object: `bleu_1..bleu_4`, `rouge_l`, `cider` (COCO
scale, fractions), `sacrebleu` (0-100) and `sacrebleu_signature`; `bertscore_f1` with
`--bertscore-model`; `r_precision_top1/2/3` and `mm_dist` with `--evaluator` and `--motions`.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .coco import coco_scores, sacrebleu_score

EXIT_ERROR = 2
HML_FPS = 20
# A HumanML3D sub-span sample id, as T2M names them: "<motion id>_<start>_<end>" (seconds, "%f")
SPAN_ID = re.compile(r"^(?P<motion>.+)_(?P<start>\d+\.\d+)_(?P<end>\d+\.\d+)$")


class ScoreError(Exception):
    """A user-facing error: printed as `error: <message>`, exit status 2."""


@dataclass(frozen=True)
class Prediction:
    id: str
    prediction: str
    references: tuple[str, ...] | None = None
    motion_id: str | None = None


# ---------------------------------------------------------------- corpus scores


def _all_scores(
    ids: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    bertscore_model: str | Path | None = None,
    bertscore_options: Mapping[str, Any] | None = None,
    evaluator=None,
    motions: Sequence[np.ndarray] | None = None,
    seed: int = 0,
) -> tuple[dict[str, float], str]:
    n = len(ids)
    if not (len(predictions) == len(references) == n) or (motions is not None and len(motions) != n):
        raise ValueError("ids, predictions, references (and motions) must have the same length")
    if len(set(ids)) != n:
        dupes = sorted({i for i in ids if list(ids).count(i) > 1})
        raise ValueError(f"duplicate ids: {', '.join(map(str, dupes[:10]))}")
    # lm-eval concatenates the ranks' docs out of order: a fixed order makes every number reproducible
    order = sorted(range(n), key=lambda i: str(ids[i]))
    preds = [predictions[i] for i in order]
    refs = [list(references[i]) for i in order]
    scores = coco_scores(preds, refs)
    scores["sacrebleu"], signature = sacrebleu_score(preds, refs)
    if bertscore_model is not None:
        from .bertscore import bertscore_f1

        scores["bertscore_f1"] = bertscore_f1(
            preds, refs, model_path=bertscore_model, **(bertscore_options or {})
        )
    if evaluator is not None:
        if motions is None:
            raise ValueError("R-Precision needs the motions of the samples")
        from .retrieval import r_precision

        text_emb = evaluator.encode_texts(preds)
        motion_emb = evaluator.encode_motions([motions[i] for i in order])
        scores.update(r_precision(text_emb, motion_emb, seed=seed))
    return scores, signature


def caption_scores(
    ids: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    bertscore_model: str | Path | None = None,
    evaluator=None,
    motions: Sequence[np.ndarray] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Every caption metric of a corpus, as plain floats (computed once, samples sorted by id).

    Args:
        ids: sample ids (unique); the corpus is scored in sorted-id order whatever the input order.
        predictions: generated captions.
        references: each sample's reference captions (TM2T's three-reference policy is applied).
        bertscore_model: local roberta-large folder; adds `bertscore_f1`.
        evaluator: a `T2MEvaluator`; with `motions` (raw 263-d features per sample, aligned with
            `ids`) adds `r_precision_top1..3`, `mm_dist` and `r_precision_samples`.
        seed: seed of the R-Precision grouping.

    Returns:
        `bleu_1..bleu_4`, `rouge_l`, `cider` (fractions), `sacrebleu` (0-100), and the optional ones.
    """
    scores, _ = _all_scores(
        ids,
        predictions,
        references,
        bertscore_model=bertscore_model,
        evaluator=evaluator,
        motions=motions,
        seed=seed,
    )
    return scores


_CACHE: dict[tuple, dict[str, float]] = {}


def corpus_metric(
    items: Sequence[Sequence[Any]],
    metric: str,
    *,
    bertscore_model: str | None = None,
    evaluator_dir: str | None = None,
    motions_dir: str | None = None,
    seed: int = 0,
    device: str | None = None,
) -> float:
    """One corpus metric from lm-eval per-doc items, every metric computed once per corpus.

    For an lm-eval task whose `process_results` returns, for each metric name, the item
    `(sample_id, prediction, references[, motion_id])`: each metric's aggregation calls this with the
    full item list; the first call scores the corpus (`caption_scores`, samples sorted by id whatever
    order the ranks came back in) and later calls for the same corpus and options reuse the result.

    Args:
        items: `(sample_id, prediction, references)` or `(sample_id, prediction, references, motion_id)`.
        metric: a key of `caption_scores`' result, e.g. "bleu_4", "cider", "bertscore_f1", "mm_dist".
        bertscore_model, evaluator_dir, motions_dir, seed, device: as the `smd score-captions` options.
    """
    rows = sorted(
        (str(it[0]), str(it[1]), tuple(it[2]), (str(it[3]) if len(it) > 3 and it[3] else None))
        for it in items
    )
    key = (tuple(rows), bertscore_model, evaluator_dir, motions_dir, seed, device)
    if key not in _CACHE:
        evaluator = motions = None
        if evaluator_dir is not None:
            if motions_dir is None:
                raise ValueError("evaluator_dir needs motions_dir")
            from .t2m_evaluator import T2MEvaluator

            evaluator = T2MEvaluator.from_dir(evaluator_dir, device=device or "cpu")
            motions = [load_motion_features(motions_dir, sid, mid) for sid, _, _, mid in rows]
        options = {"device": device}
        scores, _ = _all_scores(
            [r[0] for r in rows],
            [r[1] for r in rows],
            [list(r[2]) for r in rows],
            bertscore_model=bertscore_model,
            bertscore_options=options,
            evaluator=evaluator,
            motions=motions,
            seed=seed,
        )
        _CACHE.clear()  # one corpus at a time: the key holds every prediction
        _CACHE[key] = scores
    scores = _CACHE[key]
    if metric not in scores:
        raise KeyError(f"no metric {metric!r} (computed: {', '.join(sorted(scores))})")
    return scores[metric]


# ---------------------------------------------------------------- inputs


def read_predictions(path: Path | str, *, filter_name: str | None = None) -> list[Prediction]:
    """Predictions from our JSONL or an lm-eval samples file (see the module docstring)."""
    from harness.io import read_jsonl

    rows = read_jsonl(path)
    if not rows:
        raise ScoreError(f"{path}: no predictions")
    if all("doc" in r for r in rows):
        return _from_lm_eval(rows, path, filter_name)
    items = []
    for n, r in enumerate(rows, 1):
        if "id" not in r or not isinstance(r.get("prediction"), str):
            raise ScoreError(f"{path}: line {n}: expected an object with 'id' and a string 'prediction'")
        refs = r.get("references")
        items.append(Prediction(str(r["id"]), r["prediction"], _refs(refs, path, n), r.get("motion_id")))
    return items


def _refs(refs: Any, path: Path | str, n: int) -> tuple[str, ...] | None:
    if refs is None:
        return None
    if isinstance(refs, str):
        refs = [refs]
    if not (isinstance(refs, list) and all(isinstance(x, str) for x in refs)):
        raise ScoreError(f"{path}: line {n}: 'references' must be a list of strings")
    return tuple(refs) if refs else None


def _first_text(value: Any) -> str | None:
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value if isinstance(value, str) else None


def _from_lm_eval(rows: list[dict], path: Path | str, filter_name: str | None) -> list[Prediction]:
    filters = sorted({str(r.get("filter", "none")) for r in rows})
    if filter_name is None:
        if len(filters) > 1:
            raise ScoreError(f"{path}: several filters ({', '.join(filters)}): choose one with --filter")
        filter_name = filters[0]
    elif filter_name not in filters:
        raise ScoreError(f"{path}: no filter {filter_name!r} (found {', '.join(filters)})")
    items = []
    for n, r in enumerate(rows, 1):
        if str(r.get("filter", "none")) != filter_name:
            continue
        doc = r["doc"] if isinstance(r["doc"], dict) else {}
        sample_id = doc.get("doc_id", doc.get("id", r.get("doc_id")))
        text = _first_text(r.get("filtered_resps"))
        if text is None:
            text = _first_text(r.get("resps"))
        if sample_id is None or text is None:
            raise ScoreError(f"{path}: line {n}: no doc id or no generated text")
        items.append(
            Prediction(str(sample_id), text, _refs(doc.get("references"), path, n), doc.get("motion_id"))
        )
    return items


def load_references(path: Path | str) -> dict[str, list[str]]:
    """`{sample_id: [reference, ...]}` from a JSON file."""
    from harness.io import read_json

    data = read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()
    ):
        raise ScoreError(f"{path}: expected a JSON object {{id: [reference captions]}}")
    return {str(k): v for k, v in data.items()}


def motion_span(sample_id: str, motion_id: str | None = None) -> tuple[str, int | None, int | None]:
    """(motion id, first frame, end frame) of a sample: T2M's span ids read `[int(start*20), int(end*20))`."""
    m = SPAN_ID.match(sample_id)
    if m and (motion_id is None or motion_id == m["motion"]):
        return m["motion"], int(float(m["start"]) * HML_FPS), int(float(m["end"]) * HML_FPS)
    return motion_id or sample_id, None, None


def _target_skeleton() -> np.ndarray:
    """HumanML3D's retargeting target as the SMD skeleton's rest pose: only bone lengths are used."""
    import smd

    return smd.forward_kinematics({}, np.array([[0.0, 0.9, 0.0]]))[0]


def load_motion_features(root: Path | str, sample_id: str, motion_id: str | None = None) -> np.ndarray:
    """Raw 263-d features of a sample, from `root/[new_joint_vecs/]<id>.npy` or `root/[new_joints/]<id>.npy`.

    Joint arrays `(T, 22, 3)` (HumanML3D canonical joints, 20 fps) are turned into features with
    HumanML3D's own recipe (`harness.motion_features`, retargeted to the SMD skeleton, whose bone lengths
    are HumanML3D's target skeleton's, left/right averaged). A sub-span sample takes its frames of the
    features, as T2M slices `new_joint_vecs`.
    """
    root = Path(root)
    motion, first, end = motion_span(sample_id, motion_id)
    if not motion or "/" in motion or "\\" in motion or motion in (".", ".."):
        raise ScoreError(f"invalid motion id {motion!r}")
    for folder in (root / "new_joint_vecs", root / "new_joints", root):
        path = folder / f"{motion}.npy"
        if path.is_file():
            break
    else:
        raise FileNotFoundError(f"no motion file for {sample_id!r}: {motion}.npy not found under {root}")
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == 3 and arr.shape[1:] == (22, 3):
        from ..motion_features import joints_to_features

        arr = joints_to_features(arr, _target_skeleton())
    elif not (arr.ndim == 2 and arr.shape[1] == 263):
        raise ScoreError(f"{path}: expected 263-d features (T, 263) or joints (T, 22, 3), got {arr.shape}")
    return arr if first is None else arr[first:end]


# ---------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smd score-captions",
        description="Score generated captions: BLEU@1-4, ROUGE-L, CIDEr, sacreBLEU; optionally BERTScore "
        "and the T2M evaluator's R-Precision / MM-Dist. Prints one JSON object.",
    )
    p.add_argument(
        "file", type=Path, help="JSONL of {id, prediction, references} or an lm-eval samples_*.jsonl"
    )
    p.add_argument("--references", type=Path, help="JSON {id: [references]} for lines without references")
    p.add_argument(
        "--skip-missing", action="store_true", help="skip predictions without references (reported)"
    )
    p.add_argument("--filter", dest="filter_name", help="lm-eval filter to read when the file has several")
    p.add_argument("--bertscore-model", type=Path, help="local roberta-large folder: adds bertscore_f1")
    p.add_argument(
        "--bertscore-layers", type=int, default=17, help="layer of the model to compare (17: roberta-large's)"
    )
    p.add_argument("--bertscore-batch-size", type=int, default=64)
    p.add_argument(
        "--evaluator", type=Path, help="T2M evaluator folder (finest.tar, our_vab_*, t2m_mean/std)"
    )
    p.add_argument("--motions", type=Path, help="motion features (new_joint_vecs) or joints folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the R-Precision groups (default 0)")
    p.add_argument("--device", default=None, help="torch device for BERTScore and the evaluator")
    return p


def _score(args: argparse.Namespace) -> dict[str, Any]:
    if (args.evaluator is None) != (args.motions is None):
        raise ScoreError("--evaluator and --motions go together")
    items = read_predictions(args.file, filter_name=args.filter_name)
    seen: set[str] = set()
    dupes = sorted({it.id for it in items if it.id in seen or seen.add(it.id)})
    if dupes:
        raise ScoreError(f"{args.file}: duplicate ids: {', '.join(dupes[:10])}")
    refs_map = load_references(args.references) if args.references else {}
    kept, missing = [], []
    for it in items:
        refs = it.references or refs_map.get(it.id)
        if refs:
            kept.append((it, list(refs)))
        else:
            missing.append(it.id)
    if missing:
        listing = ", ".join(missing[:20]) + (f" ... ({len(missing)} in all)" if len(missing) > 20 else "")
        if not args.skip_missing:
            raise ScoreError(f"{len(missing)} predictions have no references: {listing}")
        print(f"skipped {len(missing)} predictions without references: {listing}", file=sys.stderr)
    if not kept:
        raise ScoreError("no prediction left to score")
    evaluator = motions = None
    if args.evaluator is not None:
        from .t2m_evaluator import T2MEvaluator

        motions, absent = [], []
        for it, _ in kept:
            try:
                motions.append(load_motion_features(args.motions, it.id, it.motion_id))
            except FileNotFoundError:
                absent.append(it.id)
        if absent:
            raise ScoreError(
                f"no motion under {args.motions} for {len(absent)} samples: {', '.join(absent[:20])}"
            )
        evaluator = T2MEvaluator.from_dir(args.evaluator, device=args.device or "cpu")
    options = {
        "batch_size": args.bertscore_batch_size,
        "device": args.device,
        "num_layers": args.bertscore_layers,
    }
    scores, signature = _all_scores(
        [it.id for it, _ in kept],
        [it.prediction for it, _ in kept],
        [r for _, r in kept],
        bertscore_model=args.bertscore_model,
        bertscore_options=options,
        evaluator=evaluator,
        motions=motions,
        seed=args.seed,
    )
    out: dict[str, Any] = dict(scores)
    out["sacrebleu_signature"] = signature
    out["n_samples"] = len(kept)
    out["n_skipped"] = len(missing)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = _score(args)
    except (ScoreError, ValueError, OSError, KeyError, RuntimeError, pickle.UnpicklingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

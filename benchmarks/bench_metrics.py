"""Speed of the caption metrics on the HumanML3D test population (4,398 samples), on CPU.

    python benchmarks/bench_metrics.py [--samples 4398] [--seed 0]

Predictions are other samples' first references (a plausible, wrong-on-purpose corpus). Measures:

  (a) COCO BLEU@1-4 / ROUGE-L / CIDEr and sacreBLEU over the corpus;
  (b) T2M evaluator throughput with random weights (texts/s with a whitespace tagger, motions/s on
      random 263-d features of 40-199 frames), and R-Precision / MM-Dist on those embeddings.

References come from `captions/humanml3d_test_references.json` in the fixtures (`$SMD_FIXTURES`, else
../shared/fixtures beside the repository); without them, synthetic captions are used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _references(n: int, rng: np.random.Generator) -> dict[str, list[str]]:
    path = Path(os.environ.get("SMD_FIXTURES", REPO.parent / "shared" / "fixtures"))
    path = path / "captions" / "humanml3d_test_references.json"
    if path.is_file():
        refs = json.loads(path.read_text(encoding="utf-8"))
        return {k: refs[k] for k in sorted(refs)[:n]}
    words = "a man person walks jumps turns left right forward slowly then waves hand".split()
    return {f"{i:06d}": [" ".join(rng.choice(words, 8)) for _ in range(3)] for i in range(n)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=4398)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)

    from harness.metrics.coco import coco_scores, sacrebleu_score

    refs = _references(args.samples, rng)
    ids = list(refs)
    preds = [refs[ids[(k + 1) % len(ids)]][0] for k in range(len(ids))]
    ref_lists = [refs[i] for i in ids]
    t = time.perf_counter()
    scores = coco_scores(preds, ref_lists)
    t_coco = time.perf_counter() - t
    t = time.perf_counter()
    sacre, _ = sacrebleu_score(preds, ref_lists)
    t_sacre = time.perf_counter() - t
    print(f"{len(ids)} samples: COCO scorers {t_coco:.2f} s, sacreBLEU {t_sacre:.2f} s")
    print("  " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()) + f", sacrebleu {sacre:.2f}")

    import torch

    from harness.metrics.retrieval import r_precision
    from harness.metrics.t2m_evaluator import (
        MotionEncoderBiGRUCo,
        MovementConvEncoder,
        T2MEvaluator,
        TextEncoderBiGRUCo,
    )
    from harness.metrics.t2m_text import WordVectorizer

    torch.manual_seed(args.seed)
    words = ["sos", "eos", "unk"] + sorted({w for r in ref_lists for c in r for w in c.split()})
    vec = WordVectorizer(words, {w: i for i, w in enumerate(words)}, rng.normal(size=(len(words), 300)))
    ev = T2MEvaluator(
        TextEncoderBiGRUCo(),
        MotionEncoderBiGRUCo(),
        MovementConvEncoder(),
        vec,
        np.zeros(263),
        np.ones(263),
        tagger=lambda s: [(w, "NOUN", w) for w in s.split()],
    )
    t = time.perf_counter()
    text_emb = ev.encode_texts(preds)
    t_text = time.perf_counter() - t
    motions = [rng.normal(size=(int(rng.integers(40, 200)), 263)) for _ in ids]
    t = time.perf_counter()
    motion_emb = ev.encode_motions(motions)
    t_motion = time.perf_counter() - t
    t = time.perf_counter()
    rp = r_precision(text_emb, motion_emb, seed=args.seed)
    t_rp = time.perf_counter() - t
    print(
        f"evaluator (random weights, {torch.get_num_threads()} threads): {len(ids) / t_text:.0f} texts/s, "
        f"{len(ids) / t_motion:.0f} motions/s; R-Precision {t_rp:.2f} s "
        f"(top1 {rp['r_precision_top1']:.3f}, chance {1 / 32:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

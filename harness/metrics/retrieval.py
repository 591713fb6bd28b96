"""R-Precision (top 1/2/3) and MM-Dist from text and motion embeddings of the T2M evaluator.

Protocol (docs/protocols.md; MotionGPT's M2T metric, itself TM2T's R-precision with the generated captions as
queries): the samples are shuffled with a seeded permutation and cut into groups of 32 (a last,
incomplete group is left out, like T2M's `drop_last` loaders); inside a group the Euclidean distance
matrix is text x motion; a caption scores a hit at k when its own motion is among the k nearest motions.
R-Precision@k is the hit rate over the grouped samples; MM-Dist is the mean distance of the true
(caption, motion) pairs over the same samples.
"""

from __future__ import annotations

import numpy as np

GROUP_SIZE = 32
TOP_K = 3


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`d[i, j] = ||a[i] - b[j]||` (computed from differences: exactly 0 for equal rows)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) embeddings, got {a.shape} and {b.shape}")
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def top_k_hits(dist: np.ndarray, top_k: int = TOP_K) -> np.ndarray:
    """(N, top_k) booleans: is column i among the k smallest of row i (k = 1..top_k)."""
    ranks = np.argsort(dist, axis=1, kind="stable")[:, :top_k]
    hits = ranks == np.arange(dist.shape[0])[:, None]
    return np.logical_or.accumulate(hits, axis=1)


def r_precision(
    text_embeddings: np.ndarray,
    motion_embeddings: np.ndarray,
    *,
    group_size: int = GROUP_SIZE,
    top_k: int = TOP_K,
    seed: int = 0,
) -> dict[str, float]:
    """R-Precision top-1..top_k and MM-Dist of paired embeddings (row i of each is sample i).

    Returns:
        `{"r_precision_top1": ..., "r_precision_top<k>": ..., "mm_dist": ..., "r_precision_samples": n}`
        where n is the number of samples in complete groups.

    Raises:
        ValueError: mismatched shapes, or fewer samples than one group.
    """
    text = np.asarray(text_embeddings, dtype=np.float64)
    motion = np.asarray(motion_embeddings, dtype=np.float64)
    if text.shape != motion.shape or text.ndim != 2:
        raise ValueError(
            f"text and motion embeddings must have the same (N, D) shape: {text.shape} vs {motion.shape}"
        )
    n = text.shape[0]
    if group_size < top_k:
        raise ValueError(f"group size {group_size} is smaller than top_k {top_k}")
    n_groups = n // group_size
    if n_groups == 0:
        raise ValueError(f"R-Precision needs at least {group_size} samples, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    hits = np.zeros(top_k)
    true_dist = 0.0
    for g in range(n_groups):
        idx = order[g * group_size : (g + 1) * group_size]
        dist = euclidean_distance_matrix(text[idx], motion[idx])
        true_dist += float(np.trace(dist))
        hits += top_k_hits(dist, top_k).sum(axis=0)
    used = n_groups * group_size
    out = {f"r_precision_top{k + 1}": float(hits[k] / used) for k in range(top_k)}
    out["mm_dist"] = true_dist / used
    out["r_precision_samples"] = float(used)
    return out

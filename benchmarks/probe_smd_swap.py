"""Does one adapter read the SMD? Score it on its docs, then on the same docs with every SMD swapped for
another motion's (the `<preset>-blind` docs), and compare doc by doc.

    python benchmarks/probe_smd_swap.py CELL [--results results] [--resamples 10000] [--seed 0]
    python benchmarks/probe_smd_swap.py demo_babel_qa_cloze/v5_top3/tiny+lora-text

CELL is a committed QA cell (a key under --results, or a cell file) scored on real docs, zero-shot or
with an adapter. The probe re-runs its evaluation on the blind docs of the same split, with the same
backbone, adapter, task and limit (into a temporary folder: nothing under --results changes), then
prints, swapped minus real, per doc:
  - accuracy: difference, paired-bootstrap 95 % CI, exact McNemar p, answers that changed;
  - for log-likelihood tasks (`_mc`, `_cloze`): the gold option's log-probability among the options
    (log-softmax of the options' log-likelihoods), mean difference in nats and its paired-bootstrap CI.

Why a probe beside the pipeline's motion-blind control: the control trains a second adapter on the
blind docs, so real - control holds the two trainings' noise as well, which a CI over docs does not
cover. Swapping the SMD under one trained adapter isolates what that adapter reads from it: a model
that ignores the SMD changes no answer.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.core import read_json  # noqa: E402
from harness.results import cell_path, parse_cell_key, provenance_path  # noqa: E402
from harness.results.compare import load_run  # noqa: E402
from harness.results.stats import mcnemar_p, paired_bootstrap_ci  # noqa: E402


def gold_log_probability(row: dict) -> float | None:
    """log p(gold | options) from a log-likelihood task's per-doc row; None for generation rows."""
    lls = row.get("loglikelihoods")
    if not lls:
        return None
    lls = np.asarray(lls, dtype=np.float64)
    return float(lls[int(row["target"])] - np.logaddexp.reduce(lls))


def swapped_argv(provenance: dict, cell_key: str, out: Path) -> list[str]:
    """`smd evaluate` arguments that repeat the cell's evaluation on the blind docs of its preset."""
    benchmark, variant, backbone, adapter_name = parse_cell_key(cell_key)
    if variant.endswith("-blind"):
        raise SystemExit(f"{cell_key}: already scored on blind docs; give the cell of the real docs")
    adapter = (provenance.get("adapter") or {}).get("path")
    argv = ["--task", provenance["task"], "--benchmark", benchmark, "--data-root", provenance["data"]["root"]]
    argv += ["--variant", f"{variant}-blind", "--backbone", backbone, "--results", str(out / "results")]
    if adapter:
        argv += ["--adapter", adapter, "--adapter-name", f"{adapter_name}-probe"]
    argv += ["--samples-dir", str(out / "samples")]
    if provenance.get("limit") is not None:
        argv += ["--limit", str(provenance["limit"])]
    return argv


def report(real, swapped, resamples: int, seed: int) -> list[str]:
    ids = sorted(real.rows)
    if set(ids) != set(swapped.rows):
        raise SystemExit("the blind docs are not the same questions as the real ones")
    a = np.array([real.rows[i]["acc"] for i in ids], dtype=np.float64)
    b = np.array([swapped.rows[i]["acc"] for i in ids], dtype=np.float64)
    lo, hi = paired_bootstrap_ci(a, b, resamples=resamples, seed=seed)
    a_only, b_only, p = mcnemar_p(a, b)
    lines = [
        f"{len(ids)} docs; swapped - real, paired bootstrap ({resamples:,} resamples, seed {seed})",
        f"accuracy: real {100 * a.mean():.1f}, swapped {100 * b.mean():.1f}, "
        f"difference {100 * (b.mean() - a.mean()):+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}], "
        f"McNemar p = {p:.3g}; {a_only + b_only} answers changed from right to wrong or back",
    ]
    gold = [(gold_log_probability(real.rows[i]), gold_log_probability(swapped.rows[i])) for i in ids]
    if all(x is not None and y is not None for x, y in gold):
        ga, gb = (np.array(v) for v in zip(*gold))
        lo, hi = paired_bootstrap_ci(ga, gb, resamples=resamples, seed=seed)
        changed = sum(real.rows[i]["prediction"] != swapped.rows[i]["prediction"] for i in ids)
        lines.append(
            f"gold log-probability: real {ga.mean():.3f}, swapped {gb.mean():.3f} nats, difference "
            f"{(gb - ga).mean():+.4f} [{lo:+.4f}, {hi:+.4f}]; predicted option changed on {changed} docs"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cell", help="a QA cell with an adapter, scored on real docs")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from harness.evaluate.main import main as evaluate

    real = load_run(args.cell, args.results)
    key = real.label  # the cell key (also when CELL is given as a file)
    cell = Path(args.cell) if args.cell.endswith(".json") else cell_path(args.results, *parse_cell_key(key))
    provenance = read_json(provenance_path(cell))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if evaluate(swapped_argv(provenance, key, out)) != 0:
            return 1
        benchmark, variant, backbone, adapter_name = parse_cell_key(key)
        swapped_key = f"{benchmark}/{variant}-blind/{backbone}" + (
            f"+{adapter_name}-probe" if adapter_name else ""
        )
        swapped = load_run(swapped_key, out / "results")
        print(f"{key}: scored on the docs of {variant}, then on {variant}-blind")
        print("\n".join(report(real, swapped, args.resamples, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

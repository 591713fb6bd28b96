"""A trained LoRA adapter folder (`smd train`'s OUT/best), as a results cell or an attention run records
it: its path, weights and hash, and the SMD format it was trained on (the format contract)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from harness.core import read_json, sha256_file
from harness.data import check_same_format

from .backbones import check_weights

__all__ = ["adapter_record"]

_LOG = logging.getLogger("smd.evaluate")


def adapter_record(adapter: Path, scored: dict[str, str], docs: Path) -> dict[str, Any]:
    """Path, weights and hash of an adapter folder, and the SMD format it was trained on (the format
    contract: it must be the format of the docs it scores; `scored`)."""
    if not adapter.is_dir():
        raise ValueError(f"adapter folder not found: {adapter}")
    if not (adapter / "adapter_config.json").is_file():
        raise ValueError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    names = ("adapter_model.safetensors", "adapter_model.bin")
    weights = next((adapter / n for n in names if (adapter / n).is_file()), None)
    if weights is None:
        raise ValueError(f"{adapter}: no adapter_model.safetensors (or .bin)")
    if weights.suffix == ".safetensors":
        check_weights(weights)
    record = {"path": str(adapter), "weights": weights.name, "sha256": sha256_file(weights)}
    run = adapter.parent / "run.json"  # `smd train` writes OUT/run.json beside OUT/best
    trained = (read_json(run).get("smd") if run.is_file() else None) or None
    if trained is None:
        _LOG.warning("%s: no run.json saying which SMD format it was trained on: not checked", adapter)
    else:
        check_same_format(trained, scored, str(adapter), str(docs))
    return {**record, "smd": trained}

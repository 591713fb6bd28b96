"""Where a dataset's files are: the path rules every stage derives its paths from.

<root>/questions/ ...                       a QA dataset (BABEL-QA, HuMMan-QA layouts)
<root>/new_joints/ ...                      a HumanML3D-style caption dataset
<root>/smd/angle_texts_<preset>.json        SMD texts (harness.data.smd_files)
<root>/docs/<variant>/<split>.jsonl         prompt docs; <variant> = <preset>[-blind] or motion[-blind]
"""

from __future__ import annotations

from pathlib import Path

from harness.core import DataError

__all__ = ["BLIND_SUFFIX", "MOTION_VARIANT", "dataset_kind", "docs_path", "docs_variant"]

BLIND_SUFFIX = "-blind"
MOTION_VARIANT = "motion"  # the encoder baseline's docs: a `<motion:ID>` marker where the SMD stands


def docs_variant(variant: str) -> tuple[str, bool]:
    """(SMD preset, is the motion-blind control) of a docs variant: `v5_top3-blind` -> (`v5_top3`, True);
    `motion[-blind]` -> (`motion`, ...), the encoder baseline's docs.

    Raises:
        ValueError: the preset is neither one of `smd.PRESETS` nor `motion`.
    """
    import smd

    blind = variant.endswith(BLIND_SUFFIX)
    preset = variant[: -len(BLIND_SUFFIX)] if blind else variant
    if preset != MOTION_VARIANT and preset not in smd.PRESETS:  # a name, never a path: it names files
        raise ValueError(
            f"unknown SMD variant {preset!r} (one of {', '.join(smd.PRESETS)}, or {MOTION_VARIANT}; "
            f"optionally with {BLIND_SUFFIX})"
        )
    return preset, blind


def docs_path(root: Path | str, variant: str, split: str) -> Path:
    """`root/docs/<variant>/<split>.jsonl`; the variant must name a preset (`docs_variant`), never a path."""
    docs_variant(variant)
    return Path(root) / "docs" / variant / f"{split}.jsonl"


def dataset_kind(root: Path | str) -> str:
    """ "qa" (a `questions/` folder) or "humanml3d" (a `new_joints/` folder)."""
    root = Path(root)
    if (root / "questions").is_dir():
        return "qa"
    if (root / "new_joints").is_dir():
        return "humanml3d"
    raise DataError(f"{root}: not a dataset folder (expected questions/ or new_joints/)")

"""HumanML3D loaders: split lists, caption files, joints, and T2M's caption-sample population.

Layout of a dataset root (docs/data.md):

    root/new_joints/<id>.npy    (T, 22, 3) joints, Y up, frame 0 faces +Z, 20 fps
    root/texts/<id>.txt         one caption per line: `caption#word/POS ...#start#end`
    root/<split>.txt or root/splits/<split>.txt

Ids starting with `M` are the left/right mirrored copies HumanML3D adds; when a copy's file is
absent it is made from its base motion (`joints_file`, `mirror_joints`). A captioned sub-span of a
motion is a sample of its own, `<motion id>_<start>_<end>` in seconds (`span_id`, `parse_span_id`).
The facts of these ids live here only; the SMD build, the prompt docs and the caption scorer use them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.core import DataError, Problem, load_npy, read_text
from smd.skeleton import MIRROR_PERMUTATION, N_JOINTS

HML_FPS = 20.0
HML_UP_AXIS = "y"
# T2M's dataset filter (Text2MotionDatasetV2): keep MIN_FRAMES <= length < MAX_FRAMES.
MIN_FRAMES = 40
MAX_FRAMES = 200


@dataclass(frozen=True)
class Caption:
    """One line of a texts file. `start == end == 0` means the caption describes the whole clip."""

    text: str
    tokens: tuple[str, ...]  # "word/POS"
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class CaptionSample:
    """One captioning sample: a motion, or a span of it, with every caption that describes it.

    Frames are `[start_frame, end_frame)` of the motion, clipped to its length like T2M's slice.
    """

    sample_id: str
    motion_id: str
    start_frame: int
    end_frame: int
    captions: tuple[Caption, ...]


def read_split(root: Path | str, split: str) -> list[str]:
    """Motion ids of a split, in file order.

    Args:
        root: HumanML3D folder.
        split: "train", "val", "test", "all", "train_val"...

    Raises:
        DataError: neither `root/<split>.txt` nor `root/splits/<split>.txt` exists.
    """
    root = Path(root)
    candidates = (root / f"{split}.txt", root / "splits" / f"{split}.txt")
    for path in candidates:
        if path.is_file():
            try:
                text = read_text(path)
            except ValueError as e:  # not UTF-8: the split cannot be read at all
                raise DataError(str(e)) from None
            return [line.strip() for line in text.splitlines() if line.strip()]
    raise DataError(f"split list {split!r} not found: tried {candidates[0]} and {candidates[1]}")


def parse_texts(path: Path | str) -> tuple[list[Caption], list[Problem]]:
    """Parse a HumanML3D texts file.

    Args:
        path: a `texts/<id>.txt` file; lines are `caption#word/POS ...#start#end`.

    Returns:
        The captions in file order (NaN start/end read as 0, as T2M does), and one Problem per
        unusable line (`item="line N"`, 1-based). Blank lines are ignored.
    """
    path = Path(path)
    captions: list[Caption] = []
    problems: list[Problem] = []
    text = read_text(path)  # a ValueError names the file when it is not UTF-8
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split("#")
        problem = None
        if len(fields) != 4:
            # A '#' inside a caption would shift every field; refusing beats reading wrong times.
            problem = f"expected 4 '#'-separated fields (caption#tokens#start#end), got {len(fields)}"
        elif not fields[0].strip():
            problem = "empty caption"
        else:
            try:
                start, end = float(fields[2]), float(fields[3])
            except ValueError:
                problem = f"start/end are not numbers: {fields[2]!r}, {fields[3]!r}"
            else:
                start = 0.0 if math.isnan(start) else start
                end = 0.0 if math.isnan(end) else end
                if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
                    problem = f"invalid span start={fields[2]!r} end={fields[3]!r}"
        if problem:
            problems.append(Problem(str(path), f"line {number}", problem))
            continue
        captions.append(Caption(fields[0].strip(), tuple(fields[1].split()), start, end))
    return captions, problems


# ---------------------------------------------------------------- ids

MIRROR_PREFIX = "M"  # HumanML3D's left/right mirrored copy of a motion: `M` + the base motion's id
# A HumanML3D sub-span sample id, as T2M names them: "<motion id>_<start>_<end>" (seconds, "%f")
SPAN_ID = re.compile(r"^(?P<motion>.+)_(?P<start>\d+\.\d+)_(?P<end>\d+\.\d+)$")


def span_id(motion_id: str, start: float, end: float) -> str:
    """The sample id of the sub-span `start`..`end` (seconds) of a motion, as T2M prints it."""
    return f"{motion_id}_{start:.6f}_{end:.6f}"


def parse_span_id(sample_id: str) -> tuple[str, float, float] | None:
    """(motion id, start, end) in seconds of a sub-span sample id (`span_id` at its printed precision);
    None for any other id (a whole motion's)."""
    m = SPAN_ID.match(sample_id)
    return (m["motion"], float(m["start"]), float(m["end"])) if m else None


def span_frames(start: float, end: float) -> tuple[int, int]:
    """Frames `[first, end)` of a span in seconds, as T2M slices it: `[int(start*20), int(end*20))`."""
    return int(start * HML_FPS), int(end * HML_FPS)


def mirror_base(motion_id: str, prefix: str = MIRROR_PREFIX) -> str | None:
    """The base motion's id of a mirrored copy's id (`M000007` -> `000007`); None for any other id."""
    if motion_id.startswith(prefix) and len(motion_id) > len(prefix):
        return motion_id[len(prefix) :]
    return None


def joints_file(root: Path | str, motion_id: str) -> tuple[Path, bool]:
    """(file to read, whether to mirror it) of a motion: `root/new_joints/<id>.npy`, or for an
    `M`-prefixed id without a file of its own its base motion's file, to mirror (`mirror_joints`).

    Raises:
        ValueError: an empty id or one that is a path.
        FileNotFoundError: no file (nor base file to mirror); the message names the path.
    """
    if not motion_id or "/" in motion_id or "\\" in motion_id or motion_id in (".", ".."):
        raise ValueError(f"invalid motion id {motion_id!r}")
    folder = Path(root) / "new_joints"
    path = folder / f"{motion_id}.npy"
    if path.is_file():
        return path, False
    base_id = mirror_base(motion_id)
    if base_id is not None:
        base = folder / f"{base_id}.npy"
        if base.is_file():
            return base, True
        raise FileNotFoundError(f"no joints for {motion_id!r}: {path} is missing, and so is {base} to mirror")
    raise FileNotFoundError(f"no joints for {motion_id!r}: {path} is missing")


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """HumanML3D's mirrored copy of joints `(T, 22, 3)`: x (the body's lateral axis) negated and
    left/right joints swapped; a new array, the input is untouched."""
    joints = joints[:, list(MIRROR_PERMUTATION)]  # fancy indexing copies: the file's array is untouched
    joints[..., 0] *= -1
    return joints


# ---------------------------------------------------------------- joints


def load_joints(root: Path | str, motion_id: str) -> np.ndarray:
    """Joint positions `(T, 22, 3)` of a HumanML3D motion, as stored (Y up, 20 fps).

    An `M`-prefixed id whose file is missing is built from the base motion the way HumanML3D builds
    its mirrored copies: negate x (the body's lateral axis) and swap left/right joints.

    Raises:
        FileNotFoundError: no file (nor base file to mirror); the message names the path.
        ValueError: the file is not a `(T, 22, 3)` array.
    """
    path, mirrored = joints_file(root, motion_id)
    joints = np.load(path, allow_pickle=False)
    if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3):
        raise ValueError(f"{path}: expected joints of shape (T, {N_JOINTS}, 3), got {joints.shape}")
    if mirrored:
        joints = mirror_joints(joints)
    return joints


def motion_length(root: Path | str, motion_id: str) -> int:
    """Number of frames of a motion, read from the file header only (same `M` rule as `load_joints`)."""
    path, _ = joints_file(root, motion_id)
    array = load_npy(path, mmap_mode="r")  # the header only
    if array.ndim != 3 or array.shape[1:] != (N_JOINTS, 3):
        hint = " (a 263-d feature file: joints live in new_joints/)" if array.shape[-1:] == (263,) else ""
        raise ValueError(f"{path}: expected joints of shape (T, {N_JOINTS}, 3), got {array.shape}{hint}")
    return int(array.shape[0])


def caption_samples(root: Path | str, split: str) -> tuple[list[CaptionSample], list[Problem]]:
    """The caption samples of a split, built like T2M's Text2MotionDatasetV2.

    Per motion id of the split: a motion whose length is outside `[MIN_FRAMES, MAX_FRAMES)` yields
    nothing at all (T2M skips it before reading its captions, sub-spans included). Otherwise the
    whole-clip captions (`start == end == 0`) form the sample `motion_id`, and each distinct sub-span
    `(start, end)` forms the sample `span_id(motion_id, start, end)` (`<motion_id>_<start>_<end>`, "%f")
    over frames `span_frames(start, end)`, `[int(start*20), int(end*20))`, kept only when that slice has
    `MIN_FRAMES <= n < MAX_FRAMES` frames.

    Args:
        root: HumanML3D folder with `texts/`, `new_joints/` and the split lists.
        split: split name for `read_split`.

    Returns:
        Samples sorted by sample id, and the problems (missing, unreadable or undecodable texts or
        motion files, bad lines; and, of kind "rule", the motions the frame range leaves out).

    Raises:
        DataError: the split list, `texts/` or `new_joints/` is missing.
    """
    root = Path(root)
    ids = read_split(root, split)
    for folder in (root / "texts", root / "new_joints"):
        if not folder.is_dir():
            raise DataError(f"HumanML3D folder not found: {folder}")
    samples: list[CaptionSample] = []
    problems: list[Problem] = []
    for motion_id in ids:
        text_path = root / "texts" / f"{motion_id}.txt"
        if not text_path.is_file():
            problems.append(Problem(str(text_path), motion_id, "texts file missing"))
            continue
        try:
            length = motion_length(root, motion_id)
        except (OSError, ValueError) as exc:  # FileNotFoundError is an OSError
            problems.append(Problem(str(root / "new_joints" / f"{motion_id}.npy"), motion_id, str(exc)))
            continue
        if not MIN_FRAMES <= length < MAX_FRAMES:
            problems.append(
                Problem(
                    str(joints_file(root, motion_id)[0]),  # an `M` id's base motion when it has no file
                    motion_id,
                    f"{length} frames, outside T2M's [{MIN_FRAMES}, {MAX_FRAMES}): left out, as by T2M",
                    kind="rule",
                )
            )
            continue
        try:
            captions, bad = parse_texts(text_path)
        except (OSError, ValueError) as exc:
            problems.append(Problem(str(text_path), motion_id, str(exc)))
            continue
        problems += bad
        whole = tuple(c for c in captions if c.start == 0 and c.end == 0)
        if whole:
            samples.append(CaptionSample(motion_id, motion_id, 0, length, whole))
        spans: dict[str, list[Caption]] = {}
        for caption in captions:
            if not (caption.start == 0 and caption.end == 0):
                # Grouped by the printed id so two spans never share an id.
                spans.setdefault(span_id(motion_id, caption.start, caption.end), []).append(caption)
        for sample_id, group in spans.items():
            # Python slice semantics, as T2M's motion[a:b]: both ends clip to the motion's length.
            first, last = (min(frame, length) for frame in span_frames(group[0].start, group[0].end))
            if MIN_FRAMES <= last - first < MAX_FRAMES:
                samples.append(CaptionSample(sample_id, motion_id, first, last, tuple(group)))
    samples.sort(key=lambda s: s.sample_id)
    return samples, problems

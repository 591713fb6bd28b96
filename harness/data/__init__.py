"""The data floor: datasets, their folders and the files the data stages write.

- `registry`: the datasets (name, kind, frame rate, up axis, lm-eval tasks, benchmark names);
- `qa`, `humanml3d`: the loaders (BABEL-QA / HuMMan-QA questions; HumanML3D captions and joints) and
  their constants; `motions`: a doc's motion in the SMD's canonical frame;
- `layout`: where a dataset folder keeps its docs; `smd_files`: SMD files and the format contract;
- `answers`: option letters and answer extraction; `prompts`: the one prompt builder a doc is trained
  and scored with; `marker`: the `<motion:ID>` marker that stands for the SMD in `motion` docs;
- `motion_features`: HumanML3D's 263-d features of joints (the encoder's input, the T2M evaluator's).

Its stages (`smd build-smd`, `smd make-options`, `smd make-docs`) are `build_smd`, `qa_options` and
`prompt_docs`: motion -> SMD files -> 10-option questions -> prompt docs.
"""

from .answers import LETTERS, MAX_OPTIONS, extract_option
from .humanml3d import (
    HML_FPS,
    HML_UP_AXIS,
    MAX_FRAMES,
    MIN_FRAMES,
    Caption,
    CaptionSample,
    caption_samples,
    load_joints,
    motion_length,
    parse_span_id,
    parse_texts,
    read_split,
    span_frames,
)
from .layout import BLIND_SUFFIX, MOTION_VARIANT, dataset_kind, docs_path, docs_variant
from .marker import MARKER, MOTION_FORMAT, motion_marker
from .motion_features import (
    FEATURE_DIM,
    FEATURE_GROUPS,
    features_to_joints,
    joints_to_features,
    target_skeleton,
)
from .motions import load_canonical
from .prompts import (
    PROMPT_VERSION,
    SYSTEM_CAPTION,
    SYSTEM_QA,
    SYSTEM_QA_CLOZE,
    QaTarget,
    build_messages,
    caption_user,
    is_qa,
    qa_cloze_user,
    qa_user,
    render_prompt,
    target,
)
from .qa import (
    ANSWER_TYPES,
    QA_FPS,
    QA_UP_AXIS,
    RELATIONS,
    SPLITS,
    QADataset,
    QAQuestion,
    find_motion,
    load_qa,
)
from .registry import (
    ANSWER_PRIOR,
    DATASETS,
    DEMO_PREFIX,
    SCORINGS,
    TASKS,
    BenchmarkName,
    Dataset,
    benchmark_name,
    check_prefix,
    get_dataset,
    parse_benchmark,
    task_name,
)
from .smd_files import (
    PAPER_FORMAT,
    SMDFile,
    check_same_format,
    docs_format,
    load_smd_file,
    smd_file_name,
    write_smd_file,
)

__all__ = [
    "ANSWER_PRIOR",
    "ANSWER_TYPES",
    "BLIND_SUFFIX",
    "DATASETS",
    "DEMO_PREFIX",
    "FEATURE_DIM",
    "FEATURE_GROUPS",
    "HML_FPS",
    "HML_UP_AXIS",
    "LETTERS",
    "MARKER",
    "MAX_FRAMES",
    "MAX_OPTIONS",
    "MIN_FRAMES",
    "MOTION_FORMAT",
    "MOTION_VARIANT",
    "PAPER_FORMAT",
    "PROMPT_VERSION",
    "QA_FPS",
    "QA_UP_AXIS",
    "RELATIONS",
    "SCORINGS",
    "SPLITS",
    "SYSTEM_CAPTION",
    "SYSTEM_QA",
    "SYSTEM_QA_CLOZE",
    "TASKS",
    "BenchmarkName",
    "Caption",
    "CaptionSample",
    "Dataset",
    "QADataset",
    "QAQuestion",
    "QaTarget",
    "SMDFile",
    "benchmark_name",
    "build_messages",
    "caption_samples",
    "caption_user",
    "check_prefix",
    "check_same_format",
    "dataset_kind",
    "docs_format",
    "docs_path",
    "docs_variant",
    "extract_option",
    "features_to_joints",
    "find_motion",
    "get_dataset",
    "is_qa",
    "joints_to_features",
    "load_canonical",
    "load_joints",
    "load_qa",
    "load_smd_file",
    "motion_length",
    "motion_marker",
    "parse_benchmark",
    "parse_span_id",
    "parse_texts",
    "qa_cloze_user",
    "qa_user",
    "read_split",
    "render_prompt",
    "smd_file_name",
    "span_frames",
    "target",
    "target_skeleton",
    "task_name",
    "write_smd_file",
]

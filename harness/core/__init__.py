"""The ground floor of `harness/`: what every feature needs, nothing feature-specific.

- `files`: the one writer of outputs (`atomic_output` and its helpers, `OutputError`; `Journal`, a cache
  that grows as work goes), text read as people save it (`read_text`), safe reads (JSON, JSONL, YAML,
  `.npy`), file and folder hashes;
- `config`: `params.yaml` read once, typed sections (one `Params` per command, passed down);
- `code_deps`: a module's import closure and the digest of its code (training fingerprints its runs with
  it; the layout test derives each dvc stage's code deps from it);
- `provenance`: when, on what, with which versions and from which commit a run ran;
- `problems`: `DataError` (an unusable input, one line for the user) and `Problem` (one skipped item);
- `arg_types`: argparse types the stages' command lines share, and the shared option spellings
  (`--variant`, `-o/--output`) with their deprecated aliases.
"""

from .arg_types import (
    OUTPUT_OPTION,
    VARIANT_OPTION,
    add_renamed_option,
    batch_size,
    json_object,
    positional_output,
    positive_int,
)
from .code_deps import code_digest, import_closure, imports, module_files
from .config import Params, checked_fields, load_params, parse_overrides, read_params, typed_from_mapping
from .files import (
    Journal,
    OutputError,
    atomic_output,
    atomic_write_bytes,
    atomic_write_figure,
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_npy,
    atomic_write_text,
    folder_digest,
    load_npy,
    read_json,
    read_jsonl,
    read_text,
    read_yaml,
    sha256_file,
)
from .problems import DataError, Problem, is_error
from .provenance import git_state, hardware, now_utc, versions

__all__ = [
    "OUTPUT_OPTION",
    "VARIANT_OPTION",
    "DataError",
    "Journal",
    "OutputError",
    "Params",
    "Problem",
    "add_renamed_option",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_figure",
    "atomic_write_json",
    "atomic_write_jsonl",
    "atomic_write_npy",
    "atomic_write_text",
    "batch_size",
    "checked_fields",
    "code_digest",
    "folder_digest",
    "git_state",
    "hardware",
    "import_closure",
    "imports",
    "is_error",
    "json_object",
    "load_npy",
    "load_params",
    "module_files",
    "now_utc",
    "parse_overrides",
    "positional_output",
    "positive_int",
    "read_json",
    "read_jsonl",
    "read_params",
    "read_text",
    "read_yaml",
    "sha256_file",
    "typed_from_mapping",
    "versions",
]

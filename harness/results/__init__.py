"""Results: the cells `smd evaluate` writes and what is read off them.

- `cells`: a cell's name, path and file format (metrics + provenance), the committed and the reported
  (paper) numbers;
- `stats`: statistics of per-doc scores: a cell's confidence intervals, paired bootstrap, McNemar;
- the stages that read cells: `compare` (`smd compare`: two cells on the same docs), `check` (`smd
  check`: cells against baselines, or against other cells), `table` (`smd table`: Markdown tables
  and a figure; `table_render` draws them) and `headline` (`smd stage headline`: the few numbers
  `dvc metrics show` shows).

The face: the cell format and the statistics `smd evaluate` writes into a cell.
"""

from harness.data import ANSWER_PRIOR  # the answer prior's backbone name in cells, named by the registry

from .cells import (
    DOCS_KINDS,
    MEASURED,
    NO_VARIANT,
    REFERENCE_DIR,
    REPORTED,
    Cell,
    cell_key,
    cell_path,
    cell_samples_path,
    load_reference,
    load_results,
    parse_cell_key,
    parse_cell_path,
    parse_variant,
    provenance_path,
    write_cell,
)
from .stats import cell_statistics

__all__ = [
    "ANSWER_PRIOR",
    "DOCS_KINDS",
    "MEASURED",
    "NO_VARIANT",
    "REFERENCE_DIR",
    "REPORTED",
    "Cell",
    "cell_key",
    "cell_path",
    "cell_statistics",
    "load_reference",
    "load_results",
    "parse_cell_key",
    "parse_cell_path",
    "parse_variant",
    "provenance_path",
    "cell_samples_path",
    "write_cell",
]

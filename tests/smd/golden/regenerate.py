"""Rewrite the golden SMD files after a deliberate format change (bump smd.FORMAT_VERSION too).

python -m tests.smd.golden.regenerate
"""

from pathlib import Path

import smd
from tests.smd.test_render import GOLDEN_MOTIONS

if __name__ == "__main__":
    for name, build in GOLDEN_MOTIONS.items():
        path = Path(__file__).parent / f"{name}.txt"
        path.write_text(f"format: {smd.FORMAT_VERSION}\n" + smd.describe(build()), encoding="utf-8")
        print(path)

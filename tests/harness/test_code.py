"""harness.core.code_deps: the import closure a module runs, and the digest training fingerprints runs
with."""

from harness.core import code_digest, import_closure, module_files
from tests.builders import REPO


def _tree(root, files: dict[str, str]):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    module_files.cache_clear()  # a fresh tree each test
    return root


def test_training_runs_the_training_package_and_not_the_tables():
    files = module_files(REPO)
    modules = import_closure(["harness.train.main"], files)
    assert {"harness.train.loop", "harness.train.checkpoints", "harness.data.prompts", "harness"} <= modules
    assert "harness.results.table" not in modules and "harness.evaluate.main" not in modules


def test_imports_inside_functions_relative_ones_and_packages_count(tmp_path):
    root = _tree(
        tmp_path,
        {
            "harness/__init__.py": "",
            "harness/a.py": "def f():\n    from .sub.b import g\n",
            "harness/sub/__init__.py": "",
            "harness/sub/b.py": "import harness.c\n",
            "harness/c.py": "",
            "harness/unused.py": "",
        },
    )
    closure = import_closure(["harness.a"], module_files(root))
    assert closure == {"harness.a", "harness", "harness.sub", "harness.sub.b", "harness.c"}


def test_the_digest_changes_with_the_code_a_module_runs_only(tmp_path):
    root = _tree(
        tmp_path, {"harness/__init__.py": "", "harness/a.py": "from . import b\n", "harness/b.py": "X = 1\n"}
    )
    (root / "harness/other.py").write_text("Y = 1\n")
    module_files.cache_clear()
    before = code_digest(["harness.a"], root)
    assert code_digest(["harness.a"], root) == before  # deterministic
    (root / "harness/other.py").write_text("Y = 2\n")  # not run by harness.a
    module_files.cache_clear()
    assert code_digest(["harness.a"], root) == before
    (root / "harness/b.py").write_text("X = 2\n")  # run by harness.a
    assert code_digest(["harness.a"], root) != before

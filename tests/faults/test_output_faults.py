"""Outputs on a shared disk and inputs as people save them: a full disk, permissions, BOMs and CRLF."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.core import OutputError, atomic_write_json, atomic_write_text, read_jsonl, read_text


def _full_disk(monkeypatch):
    """Every fsync fails as on a full disk (the data reaches the device at the fsync)."""

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)


def test_a_fresh_output_gets_the_umasks_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "out.json", "{}\n")
        assert path.stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert atomic_write_text(tmp_path / "private.json", "{}\n").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_a_full_disk_leaves_the_earlier_output_and_no_temporary_file(tmp_path, monkeypatch):
    path = atomic_write_json(tmp_path / "angle_texts_v5.json", {"a": "complete"})
    before = path.read_bytes()
    _full_disk(monkeypatch)
    with pytest.raises(OutputError, match=r"cannot write .*angle_texts_v5.json: no space left.*earlier file"):
        atomic_write_json(path, {"a": "new"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["angle_texts_v5.json"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_a_folder_without_write_permission_is_one_clear_error(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            atomic_write_text(folder / "out.txt", "x")
    finally:
        folder.chmod(0o755)


def test_build_smd_on_a_full_disk_is_one_line_and_exit_2(dataset, monkeypatch, capsys):
    root = dataset("humanml3d")
    assert main(["build-smd", str(root), "--variants", "v5", "--workers", "1"]) == 0
    smd_file = root / "smd" / "angle_texts_v5.json"
    before = smd_file.read_bytes()
    (root / "smd" / "smd_cache.jsonl").unlink()  # recompute: the cache is written as it goes
    capsys.readouterr()
    _full_disk(monkeypatch)
    assert main(["build-smd", str(root), "--variants", "v5", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("smd build-smd: error: cannot write ")
    assert "no space left" in err
    assert smd_file.read_bytes() == before
    assert not [p for p in (root / "smd").iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- text as people save it


def _windows(path: Path) -> None:
    """`path` as a Windows editor saves it: a byte-order mark and CRLF line endings."""
    text = path.read_bytes().decode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))


def _docs(root: Path, capsys) -> dict[str, list[dict]]:
    for stage in (["build-smd", str(root), "--variants", "v5", "--workers", "1"], ["make-docs", str(root)]):
        assert main(stage) == 0, capsys.readouterr()
    return {split: read_jsonl(root / "docs" / "v5" / f"{split}.jsonl") for split in ("train", "val", "test")}


def test_bom_and_crlf_captions_and_splits_give_the_same_docs(dataset, capsys):
    clean, saved = dataset("humanml3d"), dataset("humanml3d")
    splits = [saved / f"{split}.txt" for split in ("train", "val", "test")]
    for path in [*sorted((saved / "texts").glob("*.txt")), *splits]:
        _windows(path)
    expected, found = _docs(clean, capsys), _docs(saved, capsys)
    assert sum(map(len, expected.values())) > 0
    assert found == expected
    assert not any("\ufeff" in json.dumps(doc) for docs in found.values() for doc in docs)


def test_bom_and_crlf_question_files_give_the_same_docs(dataset, capsys):
    clean, saved = dataset("babel_qa"), dataset("babel_qa")
    for path in sorted((saved / "questions").glob("*.json")):
        _windows(path)
    _windows(saved / "labels.json")
    for root in (clean, saved):
        assert main(["make-options", str(root)]) == 0, capsys.readouterr()
    assert _docs(saved, capsys) == _docs(clean, capsys)


def test_lone_cr_line_endings_and_a_bom_read_as_clean_text(tmp_path):
    path = tmp_path / "split.txt"
    path.write_bytes(b"\xef\xbb\xbfa\rb\r\nc\n")
    assert read_text(path) == "a\nb\nc\n"


def test_non_utf8_captions_stay_a_problem_naming_the_file(dataset, capsys):
    from harness.data.humanml3d import caption_samples

    root = dataset("humanml3d")
    broken = sorted((root / "texts").glob("*.txt"))[0]
    broken.write_bytes("une personne marche.#x/X#0.0#0.0\n".encode("latin-1") + b"\xe9\xe8\n")
    _, problems = caption_samples(root, "all")
    assert any(p.source == str(broken) and "not UTF-8" in p.message for p in problems)

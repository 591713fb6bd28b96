import json

import pytest

import smd
from harness.data import PAPER_FORMAT, load_smd_file, write_smd_file


def test_roundtrip_of_our_format(tmp_path):
    path = write_smd_file(tmp_path / "angle_texts_v5_top3.json", "v5_top3", {"b": "two", "a": "one"})
    f = load_smd_file(path)
    assert (f.format_version, f.preset) == (smd.FORMAT_VERSION, "v5_top3")
    assert f.params["top_k"] == 3 and f.texts == {"a": "one", "b": "two"}


def test_paper_files_load_as_an_alternative_source(tmp_path):
    path = tmp_path / "angle_texts_v5_top3.json"
    path.write_text(json.dumps({"000001": "Motion: 7.0s ...", "M000001": "Motion: 7.0s ..."}))
    f = load_smd_file(path)
    assert f.format_version == PAPER_FORMAT and f.preset == "v5_top3" and len(f.texts) == 2


def test_malformed_files_name_themselves(tmp_path):
    bad = tmp_path / "angle_texts_v5.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="angle_texts_v5.json: malformed JSON"):
        load_smd_file(bad)
    bad.write_text(json.dumps({"000001": 3}))
    with pytest.raises(ValueError, match="texts must be strings"):
        load_smd_file(bad)

"""harness.report / report_cases: the case viewer's data, its size, its inputs, and the page in a browser."""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import smd
from harness.core import sha256_file
from harness.data import DATASETS
from harness.report.cases import answer, decode_motion, disagree, encode_motion, line_spans, summarize
from harness.report.main import build_report, load_evaluation, main, render_page
from tests.builders import to_z_up, walk

QA_FPS = DATASETS["babel_qa"].fps  # the QA datasets' joints: 30 fps, Z up


def _qa_root(tmp_path, motions=("m0", "m1")):
    """A QA dataset folder with walks for `motions`, docs for them and one for a motion with no joints."""
    root = tmp_path / "qa"
    (root / "questions").mkdir(parents=True)
    (root / "joints").mkdir()
    docs = []
    for k, motion_id in enumerate((*motions, "gone")):
        joints = to_z_up(walk(3.0 + k, fps=QA_FPS))
        if motion_id != "gone":
            np.save(root / "joints" / f"{motion_id}.npy", joints)
        text = smd.describe(joints, fps=QA_FPS, up_axis="z", variant="v5_top3")
        for q, (answer_type, relation) in enumerate((("action", "no_relation"), ("direction", "before"))):
            docs.append(
                {
                    "doc_id": f"{k}{q}",
                    "motion_id": motion_id,
                    "question": f"What does the person do ({q})?",
                    "options": ["walk", "run", "jump", "sit"],
                    "answer": "walk",
                    "answer_idx": 0,
                    "answer_type": answer_type,
                    "relation": relation,
                    "smd": text,
                }
            )
    path = root / "docs" / "v5_top3" / "test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return root, path, docs


def _samples(path, predictions: dict[str, str]):
    """Generation samples rows as `smd evaluate` writes them: right when the answer names option A."""
    rows = [
        {"id": i, "prediction": p, "target": "walk", "acc": int(p.startswith("A"))}
        for i, p in predictions.items()
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ANSWERS_A = {"00": "A", "01": "B", "10": "A", "11": "A", "20": "C", "21": "A"}
ANSWERS_B = {"00": "A", "01": "B", "10": "B", "11": "no idea", "20": "C", "21": "A"}


# ---------------------------------------------------------------- the pure core


def test_motions_are_resampled_rounded_to_centimetres_and_decoded_back():
    joints = walk(4.0, fps=30.0)
    motion = encode_motion(joints, 30.0, 10.0)
    assert motion["fps"] == 10.0 and motion["n"] == len(joints[::3])
    assert all(isinstance(v, int) for v in motion["d"])
    back = decode_motion(motion)
    assert np.abs(back - joints[::3]).max() <= 0.005 + 1e-9  # half a centimetre
    assert encode_motion(joints, 30.0, 7.0)["fps"] == 7.5  # the nearest whole step: every 4th frame


def test_the_stored_motion_stays_small():
    # frame-to-frame changes of a walk at 10 fps are small integers: under 3 characters a coordinate
    joints = walk(10.0, fps=30.0)

    def chars(fps_out):
        return len(json.dumps(encode_motion(joints, 30.0, fps_out)["d"], separators=(",", ":")))

    assert chars(10.0) < 3 * 100 * 66  # a 10 s clip at 10 fps: 100 frames x 66 coordinates
    assert chars(5.0) < 0.6 * chars(10.0)  # fewer frames, a smaller page


def test_segment_lines_carry_their_time_spans():
    text = "Motion: 6.1s (184 frames at 30 FPS)\nHeight:\nholds at 0.00m [0.0s–3.6s] (3.6s)\nstatic at 1°"
    assert line_spans(text) == [None, None, [0.0, 3.6], None]
    real = smd.describe(walk(3.0), fps=20, variant="v5_top3")
    spans = [s for s in line_spans(real) if s]
    assert spans and all(0 <= t0 <= t1 <= 3.05 for t0, t1 in spans)


def test_answers_name_options_by_letter_text_or_log_likelihood():
    doc = {"options": ["walk", "run"], "answer_idx": 1}
    assert answer({"prediction": "B", "acc": 1}, doc) == {"text": "B", "choice": 1, "correct": 1}
    assert answer({"prediction": "they walk", "acc": 0}, doc)["choice"] == 0
    assert answer({"prediction": "A", "loglikelihoods": [-1, -2], "acc": 0}, doc)["choice"] == 0
    assert answer({"prediction": "hmm", "acc": 0}, doc)["choice"] is None
    assert answer(None, doc) is None
    caption = answer({"prediction": " a person walks. "}, {"references": ["x"]})
    assert caption == {"text": "a person walks."}
    assert disagree([{"text": "A", "choice": 0}, {"text": "walk", "choice": 0}]) is False
    assert disagree([{"text": "A", "choice": 0}, {"text": "?", "choice": None}]) is True
    assert disagree([{"text": "a"}, {"text": "b"}]) is True and disagree([{"text": "a"}, None]) is False


# ---------------------------------------------------------------- a report, from inputs to the page


def test_report_of_two_cells_counts_types_disagreements_and_missing_motions(tmp_path):
    root, docs_file, docs = _qa_root(tmp_path)
    a = load_evaluation(str(_samples(tmp_path / "a.jsonl", ANSWERS_A)), docs_file)
    b = load_evaluation(str(_samples(tmp_path / "b.jsonl", ANSWERS_B)), docs_file)
    assert a.root == root and a.dataset.kind == "qa"
    report = build_report([a, b], docs)
    assert len(report["cases"]) == 6 and set(report["motions"]) == {"m0", "m1"}
    assert set(report["missing"]) == {"gone"}  # shown without a figure, not a crash
    assert len(report["texts"]) == 3  # one SMD per motion, however many questions
    top = report["summary"][0]
    assert (top["n"], top["correct"], top["invalid"], top["disagree"]) == (6, [4, 2], [0, 1], 2)
    by_type = {r["name"]: r for r in report["summary"]}
    assert by_type["action"]["correct"] == [2, 1] and by_type["before"]["disagree"] == 1
    assert summarize(report["cases"][:2], 2)[0]["n"] == 2
    page = render_page(report)
    assert "<script src" not in page and "http://" not in page and "https://" not in page  # self-contained


def test_cli_takes_a_cell_and_its_provenance_and_checks_the_samples(tmp_path, capsys):
    root, docs_file, _ = _qa_root(tmp_path)
    samples = _samples(tmp_path / "s.jsonl", ANSWERS_A)
    cell = tmp_path / "results" / "demo_babel_qa" / "v5_top3" / "tiny+lora.json"
    cell.parent.mkdir(parents=True)
    cell.write_text(json.dumps({"acc": 4 / 6, "n": 6}))
    prov = {
        "samples": {"path": str(samples), "sha256": sha256_file(samples)},
        "data": {"docs": {"path": str(docs_file)}, "root": str(root)},
        "inputs": {"task": "smd_babel_qa"},
    }
    cell.with_name("tiny+lora.provenance.json").write_text(json.dumps(prov))
    out = tmp_path / "page.html"
    assert main([str(cell), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "6 cases, 2 motions" in captured.out and "1 motions without joints" in captured.err
    assert "demo_babel_qa/v5_top3/tiny+lora" in out.read_text()

    samples.write_text(samples.read_text() + "\n")  # not the samples the cell's numbers come from
    assert main([str(cell), "-o", str(out)]) == 2
    assert f"error: {samples}: altered" in capsys.readouterr().err


def test_unreadable_inputs_are_one_line_errors(tmp_path, capsys):
    _, docs_file, _ = _qa_root(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "00"}\nnot json\n')
    assert main([str(bad), "--docs", str(docs_file), "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"smd report: error: {bad}: line 2") and "\n" not in err
    assert main([str(tmp_path / "none.jsonl"), "--docs", str(docs_file), "-o", str(tmp_path / "x.html")]) == 2
    assert "none.jsonl: no such file" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_on_a_clone_without_the_pipelines_data_the_error_names_the_stage_that_rebuilds_it(
    tmp_path, capsys, monkeypatch
):
    """A fresh clone has the cells and their samples but not the docs (a DVC output): the one-line error
    names the stage of dvc.lock that writes them."""
    cell = tmp_path / "results" / "demo_babel_qa" / "v5_top3" / "tiny.json"
    cell.parent.mkdir(parents=True)
    samples = _samples(cell.with_name("tiny.samples.jsonl"), ANSWERS_A)
    cell.write_text(json.dumps({"acc": 4 / 6, "n": 6}))
    docs = "data/demo/babel_qa/docs/v5_top3/test.jsonl"
    prov = {
        "samples": {"path": str(samples), "sha256": sha256_file(samples)},
        "data": {"docs": {"path": docs}, "root": "data/demo/babel_qa"},
        "inputs": {"task": "smd_babel_qa"},
    }
    cell.with_name("tiny.provenance.json").write_text(json.dumps(prov))
    lock = {
        "schema": "2.0",
        "stages": {"docs-qa@babel_qa-v5_top3": {"outs": [{"path": "data/demo/babel_qa/docs/v5_top3"}]}},
    }
    (tmp_path / "dvc.lock").write_text(json.dumps(lock))  # JSON is YAML
    monkeypatch.chdir(tmp_path)
    assert main([str(cell), "-o", "page.html"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "no such file (the docs the samples were scored on); rebuild it: dvc repro docs-qa@babel_qa-v5_top3"
    )
    assert "\n" not in err


# ---------------------------------------------------------------- the page in a real browser


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: Debian chromium is missing (.ci/run installs it)")
        pytest.skip("Debian chromium not installed (apt-get install -y chromium); CI installs it")
    return found


def _browse(chromium: str, url: str, *flags: str) -> str:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", *flags, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_the_page_renders_filters_and_draws_in_chromium(tmp_path):
    chromium = _chromium()
    _, docs_file, _ = _qa_root(tmp_path)
    a = _samples(tmp_path / "a.jsonl", ANSWERS_A)
    b = _samples(tmp_path / "b.jsonl", ANSWERS_B)
    page = tmp_path / "report.html"
    assert main([str(a), str(b), "--docs", str(docs_file), "-o", str(page), "--page-size", "4"]) == 0

    dom = _browse(chromium, page.as_uri(), "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom)[1]
    assert 'data-ready="1"' in body and 'data-matching="6"' in body and 'data-rendered="4"' in body
    assert dom.count('<section class="case') == 4  # one page of cases only
    inks = [int(v) for v in re.findall(r'<canvas[^>]*data-ink="(\d+)"', dom)]
    assert len(inks) == 4 and min(inks) > 500  # every figure drawn, not a blank canvas
    assert "6 of 6 cases · 2 disagreements" in dom

    wrong = _browse(chromium, page.as_uri() + "#wrong", "--dump-dom")  # wrong in either cell
    assert 'data-matching="4"' in wrong and wrong.count('<section class="case') == 4
    assert 'class="nofig"' in wrong  # question 20's motion has no joints: no figure, still shown
    disagreeing = _browse(chromium, page.as_uri() + "#disagree&type=direction", "--dump-dom")
    assert 'data-matching="1"' in disagreeing and 'data-id="11"' in disagreeing

    shot = tmp_path / "report.png"
    _browse(chromium, page.as_uri(), f"--screenshot={shot}", "--window-size=1280,900")
    assert shot.stat().st_size > 10_000

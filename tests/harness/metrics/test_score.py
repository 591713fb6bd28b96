import json

import numpy as np
import pytest

from harness.metrics import caption_scores
from harness.metrics.readers import read_predictions
from harness.metrics.score_cli import main

from .conftest import simple_tagger

REFS = {
    "000001": ["a man walks forward slowly", "someone walks ahead", "a person strolls forward"],
    "000002": ["a person jumps up twice", "someone hops two times"],
    "000003_1.000000_4.500000": ["the person waves with the right hand"],
}
PREDS = {
    "000001": "a man walks forward",
    "000002": "a person jumps up",
    "000003_1.000000_4.500000": "someone waves",
}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_caption_scores_are_plain_floats_and_order_free():
    ids = list(PREDS)
    a = caption_scores(ids, [PREDS[i] for i in ids], [REFS[i] for i in ids])
    b = caption_scores(ids[::-1], [PREDS[i] for i in ids[::-1]], [REFS[i] for i in ids[::-1]])
    assert a == b
    assert set(a) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider", "sacrebleu"}
    assert all(type(v) is float for v in a.values())
    with pytest.raises(ValueError, match="duplicate"):
        caption_scores(["x", "x"], ["a", "b"], [["a"], ["b"]])


def test_cli_on_our_jsonl(tmp_path, capsys):
    f = write_jsonl(
        tmp_path / "preds.jsonl",
        [{"id": i, "prediction": p, "references": REFS[i]} for i, p in PREDS.items()],
    )
    code, out, _ = run_cli([f], capsys)
    assert code == 0
    ids = list(PREDS)
    expected = caption_scores(ids, [PREDS[i] for i in ids], [REFS[i] for i in ids])
    for key, value in expected.items():
        assert out[key] == pytest.approx(value)
    assert out["sacrebleu_signature"].startswith("nrefs:3|")
    assert out["n_samples"] == 3 and "bertscore_f1" not in out and "r_precision_top1" not in out


def test_cli_on_an_lm_eval_samples_file(tmp_path, capsys):
    lm_eval_loggers = pytest.importorskip("lm_eval.loggers")
    tracker = lm_eval_loggers.EvaluationTracker(output_path=str(tmp_path))
    tracker.general_config_tracker.model_name_sanitized = "hf__tiny"
    tracker.date_id = "2026-01-01T00-00-00"
    samples = []
    for n, (sid, pred) in enumerate(sorted(PREDS.items(), reverse=True)):  # ranks concatenated out of order
        doc = {"doc_id": sid, "motion_id": sid[:6], "smd": "Motion: 7.0s", "references": REFS[sid]}
        samples.append(
            {
                "doc_id": n,
                "doc": doc,
                "target": REFS[sid][0],
                "arguments": [("<prompt>", {"until": ["\n\n"]})],
                "resps": [[pred + "  "]],
                "filtered_resps": [pred],
                "filter": "none",
                "metrics": ["bleu_4"],
                "doc_hash": "d",
                "prompt_hash": "p",
                "target_hash": "t",
                "bleu_4": sid,
            }
        )
    tracker.save_results_samples("smd_humanml3d_caption", samples)
    (path,) = tmp_path.rglob("samples_smd_humanml3d_caption_*.jsonl")
    items = read_predictions(path)
    assert {it.id: it.prediction for it in items} == PREDS
    assert items[0].motion_id == "000003"
    code, out, _ = run_cli([path], capsys)
    ids = list(PREDS)
    assert code == 0
    assert out["bleu_4"] == pytest.approx(
        caption_scores(ids, [PREDS[i] for i in ids], [REFS[i] for i in ids])["bleu_4"]
    )


def test_lm_eval_file_with_several_filters(tmp_path, capsys):
    rows = []
    for flt, text in (("none", "raw text here"), ("strip", "a man walks forward")):
        rows.append(
            {
                "doc_id": 0,
                "doc": {"doc_id": "000001", "references": REFS["000001"]},
                "resps": [["raw text here"]],
                "filtered_resps": [text],
                "filter": flt,
            }
        )
    f = write_jsonl(tmp_path / "samples_x.jsonl", rows)
    code, _, err = run_cli([f], capsys)
    assert code == 2 and "--filter" in err and "strip" in err
    assert [it.prediction for it in read_predictions(f, filter_name="strip")] == ["a man walks forward"]


def test_references_file_and_missing_ids(tmp_path, capsys):
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps(REFS))
    rows = [{"id": i, "prediction": p} for i, p in PREDS.items()] + [{"id": "999999", "prediction": "x"}]
    f = write_jsonl(tmp_path / "preds.jsonl", rows)
    code, _, err = run_cli([f, "--references", refs], capsys)
    assert code == 2 and "999999" in err and "1 predictions have no references" in err
    code, out, err = run_cli([f, "--references", refs, "--skip-missing"], capsys)
    assert code == 0 and out["n_samples"] == 3 and out["n_skipped"] == 1 and "999999" in err
    code, _, err = run_cli([f], capsys)  # no references anywhere
    assert code == 2 and "4 predictions have no references" in err


def test_real_reference_file_ids(fixtures, tmp_path, capsys):
    refs_path = fixtures / "captions" / "humanml3d_test_references.json"
    refs = json.loads(refs_path.read_text())
    by_count = {n: sorted(i for i in refs if len(refs[i]) == n) for n in (1, 2, 3)}
    ids = by_count[3][:20] + by_count[2][:10] + by_count[1][:10]  # every branch of the reference policy
    assert any("_" in i for i in refs)  # sub-span samples are part of the population
    rows = [{"id": i, "prediction": refs[i][0]} for i in ids]
    f = write_jsonl(tmp_path / "preds.jsonl", rows)
    code, out, _ = run_cli([f, "--references", refs_path], capsys)
    assert code == 0 and out["n_samples"] == 40
    assert out["bleu_4"] == pytest.approx(1.0, abs=1e-6) and out["rouge_l"] == pytest.approx(1.0)
    shifted = [{"id": i, "prediction": refs[ids[(k + 1) % 40]][0]} for k, i in enumerate(ids)]
    code, worse, _ = run_cli([write_jsonl(tmp_path / "s.jsonl", shifted), "--references", refs_path], capsys)
    assert worse["bleu_4"] < 0.5 * out["bleu_4"] and worse["cider"] < out["cider"]


def test_malformed_inputs(tmp_path, capsys):
    f = write_jsonl(tmp_path / "bad.jsonl", [{"prediction": "no id"}])
    assert run_cli([f], capsys)[0] == 2
    dup = write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "prediction": "x", "references": ["x"]}] * 2)
    code, _, err = run_cli([dup], capsys)
    assert code == 2 and "duplicate" in err
    code, _, err = run_cli([dup, "--evaluator", tmp_path], capsys)
    assert code == 2 and "--motions" in err


def test_cli_with_evaluator_and_motions(tmp_path, capsys, monkeypatch, evaluator_dir):
    import harness.metrics.t2m_evaluator as t2m

    monkeypatch.setattr(t2m, "spacy_tagger", lambda: simple_tagger)
    motions = tmp_path / "new_joint_vecs"
    motions.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for k in range(40):
        sid = f"{k:06d}"
        np.save(motions / f"{sid}.npy", rng.normal(size=(int(rng.integers(40, 200)), 263)).astype(np.float32))
        rows.append(
            {
                "id": sid,
                "prediction": "a man walks forward" if k % 2 else "a person jumps",
                "references": ["x"],
            }
        )
    f = write_jsonl(tmp_path / "preds.jsonl", rows)
    code, out, err = run_cli([f, "--evaluator", evaluator_dir, "--motions", tmp_path], capsys)
    assert code == 0, err
    assert 0.0 <= out["r_precision_top1"] <= out["r_precision_top2"] <= out["r_precision_top3"] <= 1.0
    assert out["mm_dist"] > 0 and out["r_precision_samples"] == 32
    (motions / "000007.npy").unlink()
    code, _, err = run_cli([f, "--evaluator", evaluator_dir, "--motions", tmp_path], capsys)
    assert code == 2 and "000007" in err


def test_cli_with_bertscore(tmp_path, capsys, tiny_roberta):
    rows = [{"id": i, "prediction": REFS[i][0], "references": REFS[i]} for i in REFS]
    f = write_jsonl(tmp_path / "preds.jsonl", rows)
    code, out, err = run_cli(
        [f, "--bertscore-model", tiny_roberta, "--bertscore-layers", 2, "--device", "cpu"], capsys
    )
    assert code == 0, err
    assert out["bertscore_f1"] == pytest.approx(1.0, abs=1e-5)


def test_corpus_metric_scores_each_corpus_once(monkeypatch):
    import harness.metrics.score as score

    calls = []
    real = score.coco_scores

    def counting(preds, refs):
        calls.append(list(preds))
        return real(preds, refs)

    monkeypatch.setattr(score, "coco_scores", counting)
    items = [(i, PREDS[i], REFS[i]) for i in PREDS]
    bleu = score.corpus_metric(items, "bleu_4")
    cider = score.corpus_metric(items[::-1], "cider")  # another rank order: same corpus
    assert len(calls) == 1 and calls[0] == [PREDS[i] for i in sorted(PREDS)]
    ids = list(PREDS)
    expected = caption_scores(ids, [PREDS[i] for i in ids], [REFS[i] for i in ids])
    assert bleu == expected["bleu_4"] and cider == expected["cider"] and type(bleu) is float
    n_calls = len(calls)  # caption_scores above added one
    score.corpus_metric(items[:2], "bleu_4")
    assert len(calls) == n_calls + 1  # a different corpus is scored anew
    with pytest.raises(KeyError, match="bertscore_f1"):
        score.corpus_metric(items, "bertscore_f1")

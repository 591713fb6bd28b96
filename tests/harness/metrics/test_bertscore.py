import pytest

from harness.metrics.bertscore import ROBERTA_LARGE_F_BASELINE, bertscore_f1, rescale_f1


def test_rescale_formula():
    assert rescale_f1(ROBERTA_LARGE_F_BASELINE) == 0.0
    assert rescale_f1(1.0) == pytest.approx(1.0)
    assert rescale_f1(0.9) == pytest.approx((0.9 - 0.83122575) / (1 - 0.83122575))


def test_baseline_is_bert_score_roberta_large_layer_17():
    import importlib.resources

    import pandas as pd

    path = importlib.resources.files("bert_score") / "rescale_baseline" / "en" / "roberta-large.tsv"
    with importlib.resources.as_file(path) as p:
        table = pd.read_csv(p)
    assert table.iloc[17]["LAYER"] == 17
    assert table.iloc[17]["F"] == pytest.approx(ROBERTA_LARGE_F_BASELINE)


def test_protocol_arguments_with_injected_scorer():
    import torch

    calls = []

    def fake(cands, refs, **kwargs):
        calls.append((cands, refs, kwargs))
        return None, None, torch.tensor([0.9, ROBERTA_LARGE_F_BASELINE])

    preds = [" a man walks ", "jumps"]
    refs = [["r1", "r2"], ["q1", "q2", "q3", "q4"]]
    got = bertscore_f1(preds, refs, model_path="/models/roberta-large", scorer=fake)
    ((cands, seen_refs, kwargs),) = calls
    assert cands == ["a man walks", "jumps"]
    assert seen_refs == [["r1", "r2", "r1"], ["q1", "q2", "q3"]]  # three-reference policy
    assert kwargs["model_type"] == "/models/roberta-large"
    assert kwargs["num_layers"] == 17
    assert kwargs["idf"] is True
    assert kwargs["rescale_with_baseline"] is False  # rescaled here, by the formula
    assert got == pytest.approx((rescale_f1(0.9) + 0.0) / 2)


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="roberta-large"):
        bertscore_f1(["a"], [["a"]], model_path=tmp_path / "nowhere")


def test_tiny_local_model_end_to_end(tiny_roberta):
    import bert_score

    preds = ["a man walks forward", "a person jumps twice"]
    refs = [["a man walks forward", "someone walks"], ["the person waves"]]
    got = bertscore_f1(preds, refs, model_path=tiny_roberta, num_layers=2, device="cpu")
    _, _, f1 = bert_score.score(
        preds,
        [
            three_refs
            for three_refs in (
                ["a man walks forward", "someone walks", "a man walks forward"],
                ["the person waves"] * 3,
            )
        ],
        model_type=str(tiny_roberta),
        num_layers=2,
        idf=True,
        device="cpu",
    )
    assert got == pytest.approx(sum(rescale_f1(float(x)) for x in f1) / 2, abs=1e-6)
    # an exact match scores raw F1 = 1 -> rescaled 1; the other sample scores less
    exact = bertscore_f1(preds[:1], refs[:1], model_path=tiny_roberta, num_layers=2, device="cpu")
    assert exact == pytest.approx(1.0, abs=1e-5)
    assert got < exact

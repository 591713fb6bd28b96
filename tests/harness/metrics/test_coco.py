import math

import pytest

from harness.metrics.coco import coco_scores, nlgeval_text, sacrebleu_score, three_references


def test_three_reference_policy():
    assert three_references(["A"]) == ["A", "A", "A"]
    assert three_references(["A", "B"]) == ["A", "B", "A"]
    assert three_references(["A", "B", "C"]) == ["A", "B", "C"]
    assert three_references(["A", "B", "C", "D"]) == ["A", "B", "C"]
    with pytest.raises(ValueError):
        three_references([])


def test_bleu_and_rouge_by_hand():
    # candidate "the cat sat on mat" vs reference "the cat sat on the mat" (AAA after the policy):
    # clipped n-gram precisions 5/5, 3/4, 2/3, 1/2; brevity penalty exp(1 - 6/5)
    s = coco_scores(["the cat sat on mat"], [["the cat sat on the mat"]])
    bp = math.exp(1 - 6 / 5)
    p = [1.0, 3 / 4, 2 / 3, 1 / 2]
    for n in range(1, 5):
        expected = bp * math.prod(p[:n]) ** (1 / n)
        assert s[f"bleu_{n}"] == pytest.approx(expected, abs=1e-6)
    # ROUGE-L: LCS 5, precision 5/5, recall 5/6, beta 1.2
    prec, rec, b2 = 1.0, 5 / 6, 1.2**2
    assert s["rouge_l"] == pytest.approx((1 + b2) * prec * rec / (rec + b2 * prec), abs=1e-9)
    assert all(isinstance(v, float) for v in s.values())


def test_rouge_takes_best_precision_and_recall_over_references():
    # "a b" vs refs "a b c d" (P 1, R 1/2) and "a x" (P 1/2, R 1/2): pycocoevalcap maxes P and R separately
    s = coco_scores(["a b"], [["a b c d", "a x"]])
    prec, rec, b2 = 1.0, 0.5, 1.44
    assert s["rouge_l"] == pytest.approx((1 + b2) * prec * rec / (rec + b2 * prec))


def test_first_reference_as_prediction_scores_high():
    refs = [
        ["a man walks forward slowly", "someone walks ahead", "a person strolls forward"],
        ["a person jumps up twice", "someone hops two times"],
        ["the person waves with the right hand"],
        ["a man kicks with his left leg", "a person kicks", "kicking with the left foot", "ignored fourth"],
    ]
    best = coco_scores([r[0] for r in refs], refs)
    assert best["bleu_1"] == pytest.approx(1.0, abs=1e-6)
    assert best["bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert best["rouge_l"] == pytest.approx(1.0)
    worst = coco_scores([refs[(i + 1) % 4][0] for i in range(4)], refs)
    assert best["cider"] > 1.0 > worst["cider"]
    assert worst["bleu_4"] < 0.1


def _nlgeval_way(predictions, references):
    """pycocoevalcap called as NLGEval calls it: `strip()`ped strings in, nothing else done to them."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    hyps = {i: [p.strip()] for i, p in enumerate(predictions)}
    refs = {i: [r.strip() for r in three_references(rs)] for i, rs in enumerate(references)}
    bleu, _ = Bleu(4).compute_score(refs, hyps, verbose=0)
    out = {f"bleu_{n + 1}": float(b) for n, b in enumerate(bleu)}
    out["rouge_l"] = float(Rouge().compute_score(refs, hyps)[0])
    out["cider"] = float(Cider().compute_score(refs, hyps)[0])
    return out


# doubled, leading, trailing, tab and newline whitespace, in predictions and references
ODD_SPACES = (
    ["  a man   walks forward. ", "a\tperson jumps\n", "someone  waves  twice", "a person kicks"],
    [
        ["a man walks  forward.", " a person walks ahead"],
        ["a person jumps", "someone\thops up"],
        ["someone waves twice ", "a person waves"],
        ["a  person kicks", "kicking\t\tforward", "the man kicks"],
    ],
)


def test_scorers_get_exactly_what_nlgeval_hands_them():
    assert nlgeval_text("  a  man\twalks \n") == "a  man\twalks"
    predictions, references = ODD_SPACES
    ours = coco_scores(predictions, references)
    assert ours == _nlgeval_way(predictions, references)  # bit for bit, every metric

    # and the test can tell: re-joining the tokens (the earlier normalisation) moves ROUGE-L only
    def rejoin(text):
        return " ".join(text.split())

    rejoined = coco_scores([rejoin(p) for p in predictions], [[rejoin(r) for r in rs] for rs in references])
    assert rejoined["rouge_l"] != ours["rouge_l"]
    assert all(rejoined[k] == pytest.approx(ours[k], abs=1e-12) for k in ours if k != "rouge_l")


def test_clean_captions_score_as_they_did_and_no_other_normalisation():
    refs = [["a man walks forward."], ["a person jumps"]]
    base = coco_scores(["a man walks forward.", "a person jumps"], refs)
    assert base == _nlgeval_way(["a man walks forward.", "a person jumps"], refs)
    # only the ends are stripped: the same captions with outer whitespace score the same
    assert coco_scores(["  a man walks forward. ", "a person jumps\n"], refs) == base
    # no lower-casing, no punctuation splitting: "A" != "a", "forward." != "forward"
    assert coco_scores(["A man walks forward", "a person jumps"], refs)["bleu_1"] < base["bleu_1"]


def test_fourth_reference_is_ignored():
    with_four = coco_scores(["x y z w"], [["a b c d", "e f g h", "i j k l", "x y z w"]])
    assert with_four["bleu_1"] == pytest.approx(0.0, abs=1e-6)


def test_sacrebleu_matches_corpus_bleu():
    import sacrebleu

    preds = ["a man walks forward", "the person jumps up", "someone waves"]
    refs = [
        ["a man walks forward slowly", "a person walks"],
        ["a person jumps up high"],
        ["a b", "c d", "e f", "g h"],
    ]
    score, signature = sacrebleu_score(preds, refs)
    streams = [
        ["a man walks forward slowly", "a person jumps up high", "a b"],
        ["a person walks", "a person jumps up high", "c d"],
        ["a man walks forward slowly", "a person jumps up high", "e f"],
    ]
    direct = sacrebleu.corpus_bleu(preds, streams)
    assert score == pytest.approx(direct.score)
    assert "nrefs:3" in signature and "tok:13a" in signature


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        coco_scores(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError):
        coco_scores([], [])

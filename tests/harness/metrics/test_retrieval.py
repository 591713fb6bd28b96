import numpy as np
import pytest

from harness.metrics.retrieval import euclidean_distance_matrix, r_precision, top_k_hits


def test_distance_matrix():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    b = np.array([[0.0, 0.0], [0.0, 4.0], [3.0, 4.0]])
    np.testing.assert_allclose(euclidean_distance_matrix(a, b), [[0, 4, 5], [5, 3, 0]])


def test_top_k_hits_by_hand():
    dist = np.array([
        [0.1, 0.5, 0.9],  # own motion nearest -> hit at 1, 2, 3
        [0.1, 0.5, 0.2],  # own motion third -> hit at 3 only
        [0.3, 0.9, 0.2],  # own motion nearest
    ])  # fmt: skip
    np.testing.assert_array_equal(top_k_hits(dist, 3), [[1, 1, 1], [0, 0, 1], [1, 1, 1]])


def test_perfect_pairing():
    emb = np.random.default_rng(0).normal(size=(100, 16))
    out = r_precision(emb, emb.copy())
    assert out["r_precision_top1"] == out["r_precision_top3"] == 1.0
    assert out["mm_dist"] == 0.0
    assert out["r_precision_samples"] == 96  # three full groups of 32; the last 4 are left out


def test_shuffled_pairing_is_chance():
    rng = np.random.default_rng(1)
    text, motion = rng.normal(size=(32 * 300, 8)), rng.normal(size=(32 * 300, 8))
    out = r_precision(text, motion, seed=3)
    assert out["r_precision_top1"] == pytest.approx(1 / 32, abs=0.008)
    assert out["r_precision_top2"] == pytest.approx(2 / 32, abs=0.01)
    assert out["r_precision_top3"] == pytest.approx(3 / 32, abs=0.012)
    assert out["mm_dist"] == pytest.approx(4.0, abs=0.2)  # E||x - y|| for x, y ~ N(0, I_8): about sqrt(16)


def test_known_offset_gives_mm_dist():
    emb = np.random.default_rng(2).normal(size=(64, 4)) * 100
    out = r_precision(emb + np.array([0.3, 0.4, 0.0, 0.0]), emb)
    assert out["mm_dist"] == pytest.approx(0.5)
    assert out["r_precision_top1"] == 1.0


def test_grouping_is_seeded():
    rng = np.random.default_rng(4)
    text = rng.normal(size=(96, 8))
    motion = text + rng.normal(size=(96, 8)) * 1.5
    assert r_precision(text, motion, seed=0) == r_precision(text, motion, seed=0)
    assert r_precision(text, motion, seed=0) != r_precision(text, motion, seed=1)


def test_errors():
    with pytest.raises(ValueError, match="at least 32"):
        r_precision(np.zeros((31, 4)), np.zeros((31, 4)))
    with pytest.raises(ValueError, match="same"):
        r_precision(np.zeros((32, 4)), np.zeros((32, 5)))


def test_planted_pairing_through_a_random_weight_evaluator(evaluator_dir, tagger):
    """Real motion side (random weights); the text side looks each caption's motion embedding up."""
    torch = pytest.importorskip("torch")
    from harness.metrics.t2m_evaluator import T2MEvaluator
    from harness.metrics.t2m_text import WordVectorizer

    n = 64
    ev = T2MEvaluator.from_dir(evaluator_dir, tagger=tagger)
    rng = np.random.default_rng(5)
    motions = [rng.normal(size=(int(rng.integers(40, 200)), 263)) for _ in range(n)]
    motion_emb = ev.encode_motions(motions)

    # vocabulary: the K-th word has the one-hot vector K; captions vary in length to exercise the sorting
    names = ["mo" + chr(97 + k // 26) + chr(97 + k % 26) for k in range(n)]
    words = ["sos", "eos", "unk"] + names
    ev.vectorizer = WordVectorizer(words, {w: i for i, w in enumerate(words)}, np.eye(len(words), 300))
    table = torch.from_numpy(motion_emb)

    class LookupTextEncoder(torch.nn.Module):
        def forward(self, word_embs, pos_onehot, cap_lens):
            assert list(cap_lens) == sorted(cap_lens, reverse=True)  # sorted as pack_padded_sequence needs
            return table[word_embs[:, 1, 3 : 3 + n].argmax(-1)]

    ev.text_encoder = LookupTextEncoder()
    captions = [" ".join([names[k]] + ["unknown"] * (k % 7)) for k in range(n)]
    text_emb = ev.encode_texts(captions)
    np.testing.assert_array_equal(text_emb, motion_emb)
    out = r_precision(text_emb, motion_emb)
    assert out["r_precision_top1"] == 1.0 and out["mm_dist"] == 0.0
    shuffled = r_precision(text_emb, motion_emb[rng.permutation(n)])
    assert shuffled["r_precision_top1"] < 0.25 and shuffled["mm_dist"] > 0

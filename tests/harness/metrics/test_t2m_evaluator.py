import os
import pickle
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from harness.metrics.t2m_evaluator import (  # noqa: E402
    MotionEncoderBiGRUCo,
    MovementConvEncoder,
    T2MEvaluator,
    TextEncoderBiGRUCo,
    find_evaluator_files,
    load_state,
)
from harness.metrics.t2m_text import (  # noqa: E402
    POS_ENUMERATOR,
    SPACY_HELP,
    WordVectorizer,
    caption_tokens,
    load_plain_pickle,
    load_vocabulary,
    process_text,
    spacy_tagger,
)

from .conftest import BASE_WORDS  # noqa: E402

# ---------------------------------------------------------------- vocabulary and unpickler


def test_restricted_unpickler_loads_the_real_vocabulary(fixtures):
    words, word2idx = load_vocabulary(fixtures / "t2m_evaluator")
    assert len(words) == 4199 and len(word2idx) == 4199
    assert words[:3] == ["sos", "eos", "unk"]
    assert all(word2idx[w] == i for i, w in enumerate(words))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(["walk", _Evil()]))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_plain_pickle(path)


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    path = tmp_path / "arr.pkl"
    path.write_bytes(pickle.dumps(np.zeros(3)))
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        load_plain_pickle(path)
    path.write_bytes(pickle.dumps({"a": [1, "b"], "c": 3}))
    assert load_plain_pickle(path) == {"a": [1, "b"], "c": 3}


def test_vocabulary_types_are_checked(tmp_path):
    (tmp_path / "our_vab_words.pkl").write_bytes(pickle.dumps({"not": "a list"}))
    (tmp_path / "our_vab_idx.pkl").write_bytes(pickle.dumps({"a": 0}))
    with pytest.raises(ValueError, match="list of strings"):
        load_vocabulary(tmp_path)


def test_word_vectorizer_vip_unk_and_pos():
    words = ["sos", "eos", "unk", "walk", "left", "a", "quickly"]
    vec = WordVectorizer(words, {w: i for i, w in enumerate(words)}, np.eye(len(words), 300))
    emb, pos = vec["walk/VERB"]
    assert emb.argmax() == 3 and pos.argmax() == POS_ENUMERATOR["Act_VIP"]  # the VIP class wins over VERB
    assert vec["left/VERB"][1].argmax() == POS_ENUMERATOR["Loc_VIP"]
    assert vec["quickly/ADV"][1].argmax() == POS_ENUMERATOR["Desc_VIP"]
    assert vec["a/DET"][1].argmax() == POS_ENUMERATOR["DET"]
    assert vec["a/PUNCT"][1].argmax() == POS_ENUMERATOR["OTHER"]  # a tag outside the 15 -> OTHER
    emb, pos = vec["zebra/NOUN"]  # not in the vocabulary -> unk vector, OTHER
    assert emb.argmax() == 2 and pos.argmax() == POS_ENUMERATOR["OTHER"]
    assert len(POS_ENUMERATOR) == 15 and pos.sum() == 1


# ---------------------------------------------------------------- text processing


def test_process_text_follows_t2m(tagger):
    words, tags = process_text("A man walks forward, then turns left-wards 3 times.", tagger)
    # '-' removed, punctuation and digits dropped, NOUN/VERB lemmatised
    assert words == ["A", "man", "walk", "forward", "then", "turn", "leftwards", "times"]
    assert tags[:3] == ["DET", "NOUN", "VERB"]


def test_left_is_never_lemmatised():
    def tag(sentence):
        return [("he", "PRON", "he"), ("left", "VERB", "leave"), ("turns", "VERB", "turn")]

    assert process_text("he left turns", tag)[0] == ["he", "left", "turn"]


def test_caption_tokens_pad_and_crop(tagger):
    tokens, length = caption_tokens("a man walks", tagger)
    assert tokens[:5] == ["sos/OTHER", "a/DET", "man/NOUN", "walk/VERB", "eos/OTHER"]
    assert length == 5 and len(tokens) == 22 and set(tokens[5:]) == {"unk/OTHER"}
    tokens, length = caption_tokens(" ".join(["man"] * 30), tagger)
    assert length == 22 and len(tokens) == 22 and tokens[-1] == "eos/OTHER"


def test_injected_tagger_is_used(evaluator_dir):
    seen = []

    def tag(sentence):
        seen.append(sentence)
        return [(w, "NOUN", w) for w in sentence.split()]

    ev = T2MEvaluator.from_dir(evaluator_dir, tagger=tag)
    ev.encode_texts(["a man", "walk forward"])
    assert seen == ["a man", "walk forward"]


def test_missing_spacy_explains_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # import spacy -> ImportError
    with pytest.raises(RuntimeError) as e:
        spacy_tagger()
    assert "pip install spacy && python -m spacy download en_core_web_sm" in str(e.value)


def test_missing_spacy_model_explains_the_install(monkeypatch):
    fake = types.ModuleType("spacy")

    def load(name):
        raise OSError(f"[E050] Can't find model '{name}'")

    fake.load = load
    monkeypatch.setitem(sys.modules, "spacy", fake)
    with pytest.raises(RuntimeError, match="en_core_web_sm") as e:
        spacy_tagger()
    assert str(e.value) == SPACY_HELP


# ---------------------------------------------------------------- networks


def test_forward_shapes():
    torch.manual_seed(0)
    text, motion, movement = (
        TextEncoderBiGRUCo().eval(),
        MotionEncoderBiGRUCo().eval(),
        MovementConvEncoder().eval(),
    )
    with torch.no_grad():
        out = text(torch.randn(3, 22, 300), torch.zeros(3, 22, 15), torch.tensor([22, 10, 4]))
        assert out.shape == (3, 512)
        mov = movement(torch.randn(2, 196, 259))
        assert mov.shape == (2, 49, 512)
        assert movement(torch.randn(1, 40, 259)).shape == (1, 10, 512)
        assert motion(mov, torch.tensor([49, 12])).shape == (2, 512)


def test_parameter_names_and_shapes_match_t2m():
    text = {k: tuple(v.shape) for k, v in TextEncoderBiGRUCo().state_dict().items()}
    assert text["pos_emb.weight"] == (300, 15)
    assert text["input_emb.weight"] == (512, 300)
    assert text["gru.weight_ih_l0"] == (1536, 512) and "gru.weight_hh_l0_reverse" in text
    assert text["output_net.0.weight"] == (512, 1024)
    assert text["output_net.1.weight"] == (512,)  # LayerNorm
    assert text["output_net.3.weight"] == (512, 512)
    assert text["hidden"] == (2, 1, 512)
    motion = {k: tuple(v.shape) for k, v in MotionEncoderBiGRUCo().state_dict().items()}
    assert motion["input_emb.weight"] == (1024, 512)
    assert motion["gru.weight_hh_l0"] == (3072, 1024)
    assert motion["output_net.3.weight"] == (512, 1024)
    assert motion["hidden"] == (2, 1, 1024)
    movement = {k: tuple(v.shape) for k, v in MovementConvEncoder().state_dict().items()}
    assert movement == {
        "main.0.weight": (512, 259, 4), "main.0.bias": (512,), "main.3.weight": (512, 512, 4),
        "main.3.bias": (512,), "out_net.weight": (512, 512), "out_net.bias": (512,),
    }  # fmt: skip


def test_finest_tar_round_trip(tmp_path):
    torch.manual_seed(1)
    nets = {
        "text_encoder": TextEncoderBiGRUCo(),
        "motion_encoder": MotionEncoderBiGRUCo(),
        "movement_encoder": MovementConvEncoder(),
    }
    ckpt = {k: n.state_dict() for k, n in nets.items()}
    ckpt.update(epoch=12, niter=3400)
    torch.save(ckpt, tmp_path / "finest.tar")
    state = load_state(tmp_path / "finest.tar")  # weights_only=True
    fresh = MotionEncoderBiGRUCo()
    fresh.load_state_dict(state["motion_encoder"])
    assert torch.equal(fresh.hidden, nets["motion_encoder"].hidden)
    torch.save({"text_encoder": {}}, tmp_path / "partial.tar")
    with pytest.raises(KeyError, match="motion_encoder"):
        load_state(tmp_path / "partial.tar")


def test_checkpoint_with_code_is_refused(tmp_path):
    torch.save({"text_encoder": _Evil()}, tmp_path / "finest.tar")
    with pytest.raises(pickle.UnpicklingError):
        load_state(tmp_path / "finest.tar")


def test_evaluator_files_in_t2m_layout(tmp_path, evaluator_dir):
    root = tmp_path / "t2m"
    (root / "text_mot_match" / "model").mkdir(parents=True)
    (root / "glove").mkdir()
    (root / "meta").mkdir()
    (root / "text_mot_match" / "model" / "finest.tar").symlink_to(evaluator_dir / "finest.tar")
    for name in ("our_vab_words.pkl", "our_vab_idx.pkl", "our_vab_data.npy"):
        (root / "glove" / name).symlink_to(evaluator_dir / name)
    (root / "meta" / "mean.npy").symlink_to(evaluator_dir / "t2m_mean.npy")
    (root / "meta" / "std.npy").symlink_to(evaluator_dir / "t2m_std.npy")
    found = find_evaluator_files(root)
    assert found["checkpoint"].name == "finest.tar" and found["glove"].name == "glove"
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        find_evaluator_files(tmp_path / "empty")


# ---------------------------------------------------------------- evaluator


def test_motion_inputs_normalise_crop_and_pad(evaluator_dir, tagger):
    ev = T2MEvaluator.from_dir(evaluator_dir, tagger=tagger)
    feats = np.random.default_rng(0).normal(size=(199, 263))
    motion, length = ev.motion_inputs(feats)
    assert length == 196 and motion.shape == (196, 263)
    np.testing.assert_allclose(motion[:196], (feats[:196] - ev.mean) / ev.std, rtol=1e-5, atol=1e-5)
    motion, length = ev.motion_inputs(feats[:47])
    assert length == 44 and not motion[44:].any()
    with pytest.raises(ValueError, match="too short"):
        ev.motion_inputs(feats[:3])
    with pytest.raises(ValueError, match="263"):
        ev.motion_inputs(feats[:, :259])


def test_fixture_mean_std_are_the_evaluator_ones(fixtures):
    mean = np.load(fixtures / "t2m_evaluator" / "t2m_mean.npy")
    std = np.load(fixtures / "t2m_evaluator" / "t2m_std.npy")
    hml_std = np.load(fixtures / "humanml3d" / "Std.npy")
    assert mean.shape == std.shape == (263,)
    assert np.all(std[:4] < hml_std[:4] / 10)  # the evaluator's root statistics are ~25x smaller


def test_embeddings_do_not_depend_on_batch_order(evaluator_dir, tagger):
    ev = T2MEvaluator.from_dir(evaluator_dir, tagger=tagger)
    texts = ["a man walks forward", "jump", "a person turns left then walks and waves a hand quickly", "wave"]
    emb = ev.encode_texts(texts)
    perm = [2, 0, 3, 1]
    np.testing.assert_allclose(ev.encode_texts([texts[i] for i in perm]), emb[perm], atol=1e-5)
    np.testing.assert_allclose(ev.encode_texts(texts, batch_size=1), emb, atol=1e-5)
    rng = np.random.default_rng(0)
    motions = [rng.normal(size=(n, 263)) for n in (40, 199, 87, 120, 64)]
    memb = ev.encode_motions(motions)
    assert memb.shape == (5, 512)
    np.testing.assert_allclose(ev.encode_motions(motions[::-1]), memb[::-1], atol=1e-5)
    np.testing.assert_allclose(ev.encode_motions(motions, batch_size=2), memb, atol=1e-5)
    assert not np.allclose(memb[0], memb[1])


def test_unknown_words_fall_back_to_unk(evaluator_dir, tagger):
    ev = T2MEvaluator.from_dir(evaluator_dir, tagger=tagger)
    assert "zebra" not in BASE_WORDS and "giraffe" not in BASE_WORDS
    a, b = ev.encode_texts(["a zebra", "a giraffe"])
    np.testing.assert_allclose(a, b, atol=1e-6)

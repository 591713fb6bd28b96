"""The synthetic demo benchmark: deterministic, in the real layouts, with labels true of its motions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import find_peaks

import smd
from harness.demo import (
    BABEL_ACTIONS,
    BODY_PARTS,
    DIRECTIONS,
    LIBRARY,
    QUERY_TYPES,
    RELATIONS,
    ActionParams,
    Step,
    build_motion,
    generate_demo,
    main,
    qa_joints,
    random_steps,
)
from smd.angles import ANGLE_KEYS
from smd.canonical import facing_yaw
from smd.skeleton import J

N_MOTIONS = 30
SPLITS = ("train", "val", "test")
COL = {k: i for i, k in enumerate(ANGLE_KEYS)}
HEADS = {
    "action": "What action does the person do ",
    "direction": "What direction does the person move ",
    "body_part": "What body part does the person use ",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, n_motions=N_MOTIONS, seed=0)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _questions(demo: Path) -> dict[str, list]:
    qdir = demo / "babel_qa" / "questions"
    return {s: json.loads((qdir / f"imore_DEMO_{s}.json").read_text()) for s in SPLITS}


def _labels(demo: Path) -> dict[str, list[dict]]:
    return json.loads((demo / "babel_qa" / "labels.json").read_text())


def _qa_motion(demo: Path, motion_id: str) -> np.ndarray:
    return np.load(demo / "babel_qa" / "motion_sequences" / motion_id / "joints.npy")


def _y_up(joints_z: np.ndarray) -> np.ndarray:
    """Inverse of the demo's (x, y, z) -> (x, -z, y)."""
    return np.stack([joints_z[..., 0], joints_z[..., 2], -joints_z[..., 1]], axis=-1).astype(np.float64)


def _segments(demo: Path, action: str):
    """(motion id, joints Y-up, segment) for every labelled segment of `action` in the demo."""
    found = []
    for motion_id, segs in _labels(demo).items():
        for seg in segs:
            if action in seg["attributes"]["action"]:
                found.append((motion_id, _y_up(_qa_motion(demo, motion_id)), seg))
    assert found, f"the demo has no {action!r} segment to check"
    return found


def _block(text: str, header: str) -> list[str]:
    """Lines of the SMD section that starts with `header`, up to the next section."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    out = [lines[start].removeprefix(header)]
    for line in lines[start + 1 :]:
        if line.startswith("[") or line.endswith(":") and not line[0].islower():
            break
        out.append(line)
    return [x for x in out if x.strip()]


def _single(kind: str, duration: float, **params) -> np.ndarray:
    motion = build_motion([Step(kind, duration, ActionParams(**params))], np.random.default_rng(7))
    return qa_joints(motion)


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(demo, tmp_path):
    generate_demo(tmp_path, n_motions=N_MOTIONS, seed=0)
    assert _files(tmp_path) == _files(demo)


def test_different_seed_gives_different_motions_and_questions(demo, tmp_path):
    generate_demo(tmp_path, n_motions=N_MOTIONS, seed=1)
    a, b = _files(demo), _files(tmp_path)
    assert (
        a["babel_qa/motion_sequences/d00000/joints.npy"] != b["babel_qa/motion_sequences/d00000/joints.npy"]
    )
    assert a["babel_qa/questions/imore_DEMO_train.json"] != b["babel_qa/questions/imore_DEMO_train.json"]


# ---------------------------------------------------------------- layout and formats


def test_imore_rows_have_five_fields_and_a_query_program(demo):
    rows = [row for rows in _questions(demo).values() for row in rows]
    assert len(rows) >= 2 * N_MOTIONS
    for qid, question, program, motion_id, answer in rows:
        assert isinstance(qid, str) and re.fullmatch(r"d\d{5}", motion_id) and isinstance(answer, str)
        assert program[0] == "[0]=scene(motion_seq)"
        kind = re.fullmatch(r"\?=query_(action|direction|body_part)\(\[\d\]\)", program[-1]).group(1)
        assert question.startswith(HEADS[kind]) and question.endswith("?")
        assert all(re.fullmatch(r"\[\d\]=\w+\(.*\)", step) for step in program[1:-1])


def test_answers_are_in_their_type_vocabulary(demo):
    qdir = demo / "babel_qa" / "questions"
    typed = {t: json.loads((qdir / f"imore_DEMO_{t}_answer_vocab.json").read_text()) for t in QUERY_TYPES}
    assert set(typed["action"]) == set(BABEL_ACTIONS) and set(typed["direction"]) == set(DIRECTIONS)
    assert set(typed["body_part"]) == set(BODY_PARTS)
    everything = json.loads((qdir / "imore_DEMO_answer_vocab.json").read_text())
    answers = set()
    for rows in _questions(demo).values():
        for _, _, program, _, answer in rows:
            kind = program[-1].split("(")[0].removeprefix("?=query_")
            assert answer in typed[kind]
            answers.add(answer)
    assert set(everything) == answers
    assert sorted(everything.values()) == list(range(1, len(everything) + 1))


def test_splits_partition_motions_and_keep_each_motions_questions_together(demo):
    hml = demo / "humanml3d"
    ids = {s: (hml / f"{s}.txt").read_text().split() for s in SPLITS}
    every = [m for s in SPLITS for m in ids[s]]
    assert sorted(every) == [f"d{i:05d}" for i in range(N_MOTIONS)]
    assert len(ids["train"]) > len(ids["val"]) > 0 and len(ids["test"]) > 0
    split_of = {m: s for s in SPLITS for m in ids[s]}
    listed = json.loads((demo / "babel_qa" / "questions" / "split_question_ids.json").read_text())
    for split, rows in _questions(demo).items():
        assert {split_of[row[3]] for row in rows} <= {split}
        assert listed[split] == [row[0] for row in rows]
    all_qids = [q for s in SPLITS for q in listed[s]]
    assert len(all_qids) == len(set(all_qids))


def test_joint_files_are_in_each_datasets_frame(demo):
    for i in range(N_MOTIONS):
        mid = f"d{i:05d}"
        qa, hml = _qa_motion(demo, mid), np.load(demo / "humanml3d" / "new_joints" / f"{mid}.npy")
        assert qa.dtype == np.float32 and hml.dtype == np.float32
        assert (qa.shape[0] - 1) / 30 == pytest.approx((hml.shape[0] - 1) / 20)  # same duration
        assert 2.0 <= (hml.shape[0] - 1) / 20 <= 9.9 and hml.shape[0] < 200
        np.testing.assert_allclose(qa[0, J["pelvis"], :2], 0.0, atol=1e-6)  # Z up: root xy at origin
        assert qa[..., 2].min() == pytest.approx(0.0, abs=1e-5)
        np.testing.assert_allclose(hml[0, J["pelvis"], [0, 2]], 0.0, atol=1e-6)  # Y up: root xz at origin
        assert hml[..., 1].min() == pytest.approx(0.0, abs=1e-5)
        assert abs(np.degrees(facing_yaw(hml[:1].astype(np.float64))[0])) < 1e-3  # frame 0 faces +Z


def test_labels_cover_each_motion_with_babel_qa_vocabulary(demo):
    labels = _labels(demo)
    assert sorted(labels) == [f"d{i:05d}" for i in range(N_MOTIONS)]
    for mid, segs in labels.items():
        assert segs[0]["start_f"] == 0 and segs[-1]["end_f"] == _qa_motion(demo, mid).shape[0]
        assert all(a["end_f"] == b["start_f"] for a, b in zip(segs[:-1], segs[1:]))
        for seg in segs:
            attrs = seg["attributes"]
            assert set(attrs) == {"action", "body_part", "direction"}
            assert set(attrs["action"]) <= set(BABEL_ACTIONS) and set(attrs["direction"]) <= set(DIRECTIONS)
            assert set(attrs["body_part"]) <= set(BODY_PARTS)


def _run_program(program: list[str], segs: list[dict]) -> list[str]:
    """Execute an IMoRe program on labels: filters must name one segment, relate = the neighbour."""
    values: dict[str, set[int]] = {}
    for step in program:
        target, call = step.split("=", 1)
        fn, args = re.fullmatch(r"(\w+)\((.*)\)", call).groups()
        if fn == "scene":
            out = set(range(len(segs)))
        elif fn.startswith("filter_"):
            arg = args.split(", ", 1)[1]
            out = {i for i, s in enumerate(segs) if arg in s["attributes"][fn.removeprefix("filter_")]}
            assert len(out) == 1, f"{step} names {len(out)} segments"
        elif fn == "relate":
            src, rel = args.split(", ")
            out = {i + (1 if rel == "after" else -1) for i in values[src]}
        elif fn == "intersect":
            a, b = re.findall(r"\d+", args)
            out = values[f"[{a}]"] & values[f"[{b}]"]
        else:
            (i,) = values[args]
            return segs[i]["attributes"][fn.removeprefix("query_")]
        values[target] = out
    raise AssertionError("program without a query")


def test_every_answer_is_the_unique_value_the_labels_give(demo):
    labels = _labels(demo)
    for rows in _questions(demo).values():
        for _, question, program, motion_id, answer in rows:
            assert _run_program(program, labels[motion_id]) == [answer], question


def test_questions_cover_every_type_and_relation(demo):
    cells = set()
    for rows in _questions(demo).values():
        for _, question, program, _, _ in rows:
            kind = program[-1].split("(")[0].removeprefix("?=query_")
            relations = [s.split(", ")[-1].rstrip(")") for s in program if "=relate(" in s]
            relation = {0: "no_relation", 1: relations[0] if relations else "", 2: "in_between"}[
                len(relations)
            ]
            cells.add((kind, relation))
            assert (" while they " in question) == (relation == "no_relation")
    assert cells == {(t, r) for t in QUERY_TYPES for r in RELATIONS}


def test_captions_are_three_humanml3d_lines_per_motion(demo):
    pos = {"DET", "NOUN", "VERB", "ADJ", "ADP", "ADV", "CCONJ", "PRON", "NUM"}
    for i in range(N_MOTIONS):
        lines = (demo / "humanml3d" / "texts" / f"d{i:05d}.txt").read_text().splitlines()
        assert len(lines) == 3 and len(set(lines)) == 3
        for line in lines:
            caption, tokens, start, end = line.split("#")
            assert caption.endswith(".") and start == end == "0.0"
            assert all(t.split("/")[1] in pos and t.split("/")[0].isalpha() for t in tokens.split())


def test_random_compositions_respect_durations_and_posture():
    for i in range(200):
        steps = random_steps(np.random.default_rng([3, i]))
        assert 1 <= len(steps) <= 4 and 2.0 <= sum(s.duration for s in steps) <= 9.9 + 1e-9
        for prev, step in zip([None, *steps[:-1]], steps):
            low = prev is not None and LIBRARY[prev.kind].ends_low
            assert (step.kind == "stand up") == low


def test_loader_reads_the_demo_without_problems(demo):
    datasets = pytest.importorskip("harness.data")
    ds = datasets.load_qa(demo / "babel_qa")
    assert not ds.problems and len(ds.questions) == sum(len(r) for r in _questions(demo).values())


def test_a_smaller_demo_in_the_same_folder_leaves_no_stale_motions(tmp_path):
    generate_demo(tmp_path, n_motions=5, seed=0)
    generate_demo(tmp_path, n_motions=3, seed=0)
    assert sorted(p.name for p in (tmp_path / "babel_qa" / "motion_sequences").iterdir()) == [
        "d00000",
        "d00001",
        "d00002",
    ]
    assert len(list((tmp_path / "humanml3d" / "new_joints").iterdir())) == 3
    assert len(list((tmp_path / "humanml3d" / "texts").iterdir())) == 3


def test_main_writes_a_demo_and_prints_its_summary(tmp_path, capsys):
    assert main(["-o", str(tmp_path), "--motions", "4", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert '"motions": 4' in printed and "generated 4 motions" in printed
    assert (tmp_path / "humanml3d" / "new_joints" / "d00003.npy").is_file()


# ---------------------------------------------------------------- labels are true of the motions


def _travel(joints: np.ndarray, seg: dict) -> tuple[float, float]:
    """Pelvis displacement over a segment along the body's mean facing and to its left (m)."""
    a, b = seg["start_f"], seg["end_f"] - 1
    yaw = float(np.mean(np.unwrap(facing_yaw(joints[a : b + 1]))))
    dx, _, dz = joints[b, J["pelvis"]] - joints[a, J["pelvis"]]
    return dx * np.sin(yaw) + dz * np.cos(yaw), dx * np.cos(yaw) - dz * np.sin(yaw)


def test_locomotion_moves_the_way_its_direction_says(demo):
    checked = set()
    for action in ("walk", "jog", "run"):
        for _, joints, seg in _segments(demo, action):
            (direction,) = seg["attributes"]["direction"]
            fwd, left = _travel(joints, seg)
            duration = (seg["end_f"] - seg["start_f"]) / 30
            if direction == "forward":
                assert fwd > 0.5 * duration * 0.5
            elif direction == "backwards":
                assert fwd < -0.5 * duration * 0.5
            else:
                assert abs(left) > abs(fwd) and abs(left) > 0.1 * duration
                assert (left > 0) == (direction == "left")
            checked.add(direction)
    assert checked == set(DIRECTIONS)


def test_kick_raises_the_labelled_hip_only(demo):
    for mid, _, seg in _segments(demo, "kick"):
        side = seg["attributes"]["body_part"][0].split()[0]
        other = "right" if side == "left" else "left"
        angles = smd.analyze(_qa_motion(demo, mid), fps=30, up_axis="z").angles
        inner = angles[seg["start_f"] + 8 : seg["end_f"] - 8]
        assert np.ptp(inner[:, COL[f"{side}_hip_flexion"]]) > 30
        assert np.ptp(inner[:, COL[f"{other}_hip_flexion"]]) < 30


@pytest.mark.parametrize("action", ["sit", "squat", "crouch"])
def test_sit_squat_and_crouch_lower_the_pelvis(demo, action):
    for _, joints, seg in _segments(demo, action):
        leg = np.linalg.norm(joints[0, J["left_hip"]] - joints[0, J["left_knee"]]) + np.linalg.norm(
            joints[0, J["left_knee"]] - joints[0, J["left_ankle"]]
        )
        standing = joints[:, J["pelvis"], 1].max()
        lowest = joints[seg["start_f"] : seg["end_f"], J["pelvis"], 1].min()
        assert standing > 0.95 * leg and lowest < 0.8 * leg


def test_jump_lifts_the_feet_off_the_floor(demo):
    for _, joints, seg in _segments(demo, "jump"):
        feet = joints[seg["start_f"] : seg["end_f"]][:, [J["left_foot"], J["right_foot"]], 1].min(axis=1)
        assert feet.max() > 0.05 and feet.min() < 0.01  # off the floor in flight, on it before


def test_wave_oscillates_the_labelled_elbow(demo):
    for mid, _, seg in _segments(demo, "wave"):
        side = seg["attributes"]["body_part"][0].split()[0]
        other = "right" if side == "left" else "left"
        angles = smd.analyze(_qa_motion(demo, mid), fps=30, up_axis="z").angles[seg["start_f"] : seg["end_f"]]
        peaks, _ = find_peaks(angles[:, COL[f"{side}_elbow_flexion"]], prominence=10)
        quiet, _ = find_peaks(angles[:, COL[f"{other}_elbow_flexion"]], prominence=10)
        assert len(peaks) >= 2 and len(quiet) == 0


# ---------------------------------------------------------------- the SMD text tells actions apart


def test_kick_text_names_the_kicking_hip():
    for side, other in (("left", "right"), ("right", "left")):
        text = smd.describe(
            _single("kick", 2.5, side=side, part="foot"), fps=30, up_axis="z", variant="v5_top3"
        )
        assert f"{side.capitalize()} Hip Flexion" in text and f"{other.capitalize()} Hip Flexion" not in text


def test_walk_text_shows_hip_cycles_and_forward_travel():
    text = smd.describe(_single("walk", 5.0, direction="forward"), fps=30, up_axis="z", variant="v5_top3")
    assert any(line.startswith("repeats ") and "cycles" in line for line in _block(text, "Left Hip Flexion"))
    (travel,) = _block(text, "Forward Position:")
    start, end = map(float, re.search(r"increases: (\S+)m → (\S+)m", travel).groups())
    assert end - start > 3.0


def test_turn_text_shows_the_heading_change():
    for direction, sign in (("left", 1), ("right", -1)):
        joints = _single("turn", 3.0, direction=direction, turn_deg=120.0)
        text = smd.describe(joints, fps=30, up_axis="z", variant="v5_top3")
        change = [line for line in _block(text, "Heading (left turn +):") if "→" in line]
        a, b = map(int, re.search(r"(-?\d+)° → (-?\d+)°", change[0]).groups())
        assert sign * (b - a) > 90


def test_different_actions_give_different_texts():
    texts = {
        kind: smd.describe(_single(kind, 3.0, **params), fps=30, up_axis="z", variant="v5_top3")
        for kind, params in {
            "kick": {"side": "left", "part": "leg"},
            "wave": {"side": "right", "part": "hand"},
            "squat": {},
            "jumping jacks": {},
        }.items()
    }
    headers = {k: frozenset(re.findall(r"^\[(.+)\]$", t, flags=re.M)) for k, t in texts.items()}
    assert len(set(headers.values())) == len(headers)


# ---------------------------------------------------------------- the two copies are one movement


def test_20_and_30_fps_copies_describe_the_same_movement(demo):
    keep = np.array([not (k.endswith("_rotation") and k != "pelvis_rotation") for k in ANGLE_KEYS])
    for i in range(N_MOTIONS):
        mid = f"d{i:05d}"
        a = smd.analyze(_qa_motion(demo, mid), fps=30, up_axis="z")
        b = smd.analyze(np.load(demo / "humanml3d" / "new_joints" / f"{mid}.npy"), fps=20, up_axis="y")
        assert a.n_frames // 3 == b.n_frames // 2
        assert abs(a.summary.displacement - b.summary.displacement) < 0.05
        # same instants (every 3rd / 2nd frame): the same angles, barring ill-defined stretches
        assert np.median(np.abs(a.angles[::3] - b.angles[::2])[:, keep]) < 0.1
        top_a, top_b = set(np.argsort(-a.activity)[:3]), set(np.argsort(-b.activity)[:3])
        third = min(np.sort(a.activity)[-3], np.sort(b.activity)[-3])
        for k in top_a ^ top_b:  # differ only by near-ties (mirror-symmetric limbs)
            assert abs(a.activity[k] - b.activity[k]) < 0.05 * third
            assert min(a.activity[k], b.activity[k]) > 0.95 * third

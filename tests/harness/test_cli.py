"""The `smd` command line, called in-process through `harness.cli.main`."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import smd
from harness.cli import main
from harness.describe import demo_motion
from tests.builders import to_z_up, walk


@pytest.fixture
def walk_file(tmp_path):
    path = tmp_path / "walk.npy"
    np.save(path, walk(duration=4.0).astype(np.float32))
    return path


def _run(capsys, argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_describe_file_prints_the_smd(capsys, walk_file):
    rc, out, err = _run(capsys, ["describe", walk_file])
    assert rc == 0, err
    assert out.startswith("Motion: 4.0s (80 frames at 20 FPS)\n")
    assert "Joint Angles:" in out and "Left Knee Flexion" in out
    # exactly the library's text for the same array
    assert out == smd.describe(np.load(walk_file), variant="v5")


def test_describe_variant_and_fps(capsys, walk_file):
    rc, out, _ = _run(capsys, ["describe", walk_file, "--variant", "v5_notraj", "--fps", "40"])
    assert rc == 0
    assert out.startswith("Motion: 2.0s (80 frames at 40 FPS)\n")
    assert "Trajectory" not in out


def test_all_variants_prints_every_preset_under_a_header(capsys, walk_file):
    rc, out, _ = _run(capsys, ["describe", walk_file, "--all-variants"])
    assert rc == 0
    headers = [line for line in out.splitlines() if line.startswith("=== ")]
    assert headers == [f"=== {name} ===" for name in smd.PRESETS]
    assert len(headers) == 10
    joints = np.load(walk_file)
    for name in smd.PRESETS:
        assert f"=== {name} ===\n{smd.describe(joints, variant=name)}" in out


def test_describe_without_a_file_describes_the_demo_motion(capsys):
    rc, out, err = _run(capsys, ["describe"])
    assert rc == 0, err
    assert out.startswith("Motion: 6.0s (120 frames at 20 FPS)\n")
    assert out == smd.describe(demo_motion())
    # the demo walks forward ~2 m and then waves: the elbow repeats
    assert "Forward Position:\n" in out
    assert "Right Elbow Flexion (bending the elbow):" in out
    elbow = out.split("Right Elbow Flexion (bending the elbow):\n")[1]
    assert "repeats" in elbow.split("\n[")[0]


def test_demo_motion_is_deterministic_and_on_the_floor():
    a, b = demo_motion(), demo_motion()
    assert a.shape == (120, 22, 3)
    np.testing.assert_array_equal(a, b)
    assert np.allclose(a[..., 1].min(axis=1), 0.0)  # a foot on the floor in every frame
    assert 0.8 < a[0, 0, 1] < 0.95  # pelvis height standing
    assert 1.8 < a[-1, 0, 2] - a[0, 0, 2] < 2.6  # walked forward along +Z
    assert demo_motion(fps=30).shape == (180, 22, 3)


def test_up_axis_z_gives_the_same_text_as_y_up(capsys, tmp_path, walk_file):
    z_file = tmp_path / "walk_z.npy"
    np.save(z_file, to_z_up(np.load(walk_file)))
    rc_y, out_y, _ = _run(capsys, ["describe", walk_file])
    rc_z, out_z, _ = _run(capsys, ["describe", z_file, "--up-axis", "z"])
    assert rc_y == rc_z == 0
    assert out_z == out_y
    # ... and reading it as Y-up is not the same motion
    _, out_wrong, _ = _run(capsys, ["describe", z_file])
    assert out_wrong != out_y


def test_nan_motion_is_an_error_naming_the_file(capsys, tmp_path):
    joints = walk(duration=2.0)
    joints[5, 3, 1] = np.nan
    path = tmp_path / "broken_motion.npy"
    np.save(path, joints)
    rc, out, err = _run(capsys, ["describe", path])
    assert rc == 2
    assert out == ""
    assert err.startswith(f"error: {path}: ")
    assert "broken_motion.npy" in err and "non-finite" in err
    assert "Traceback" not in err


def test_missing_file_is_an_error(capsys, tmp_path):
    path = tmp_path / "nope.npy"
    rc, out, err = _run(capsys, ["describe", path])
    assert rc == 2
    assert out == ""
    assert err.strip() == f"error: {path}: no such file"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a numpy file\n", "not a .npy file"),
        (None, "shape (T, 22, 3)"),
    ],
)
def test_unreadable_or_misshapen_file_is_an_error(capsys, tmp_path, content, message):
    path = tmp_path / "bad.npy"
    if content is None:
        np.save(path, np.zeros((10, 21, 3)))
    else:
        path.write_bytes(content)
    rc, _, err = _run(capsys, ["describe", path])
    assert rc == 2
    assert err.startswith(f"error: {path}: ") and message in err


def test_unknown_variant_is_a_usage_error_listing_presets(capsys, walk_file):
    with pytest.raises(SystemExit) as exc:
        main(["describe", str(walk_file), "--variant", "v6"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown variant 'v6'" in err
    assert all(name in err for name in smd.PRESETS)


def test_plot_writes_a_png(capsys, tmp_path, walk_file):
    pytest.importorskip("matplotlib")
    out_png = tmp_path / "plots" / "walk.png"
    rc, out, err = _run(capsys, ["plot", walk_file, "-o", out_png, "--top", "3", "--variant", "v5_delta10"])
    assert rc == 0, err
    assert out.strip() == str(out_png)
    data = out_png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000  # a real figure, not an empty canvas


def test_plot_of_a_bad_file_is_an_error(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out_png = tmp_path / "x.png"
    rc, _, err = _run(capsys, ["plot", tmp_path / "nope.npy", "-o", out_png])
    assert rc == 2
    assert "nope.npy" in err
    assert not out_png.exists()


def test_plot_without_matplotlib_says_how_to_install_it(capsys, monkeypatch, tmp_path, walk_file):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    out_png = tmp_path / "walk.png"
    rc, _, err = _run(capsys, ["plot", walk_file, "-o", out_png])
    assert rc == 2
    assert "pip install 'smd-bench[plot]'" in err
    assert not out_png.exists()


def test_readback_prints_each_angle_s_error_and_the_summary(capsys, tmp_path, walk_file):
    from smd.readback import angle_errors

    other = tmp_path / "walk_v5_top3.npy"
    np.save(other, walk(duration=3.0).astype(np.float32))
    rc, out, err = _run(capsys, ["readback", walk_file, other, "--variant", "v5_top3"])
    assert rc == 0, err
    analysis = smd.analyze(np.load(walk_file))
    text = smd.render(analysis, "v5_top3")
    assert out.startswith(f"{walk_file} (v5_top3, {len(text)} characters, ~{len(text) // 4} tokens)\n")
    for i, error in angle_errors(text, analysis.angles).items():
        assert f"  {smd.ANGLES[i].name:<32} {error:6.2f}°\n" in out
    assert out.count("  median ") == 2 and "all 2 motions, 6 angle curves: median " in out


def test_readback_of_a_bad_file_is_an_error_naming_it(capsys, tmp_path):
    path = tmp_path / "nope.npy"
    rc, out, err = _run(capsys, ["readback", path])
    assert rc == 2 and err.strip() == f"error: {path}: no such file"


def test_version_comes_from_the_package_metadata(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"smd {version('smd-bench')}"


def test_the_internal_stage_command_is_left_out_of_the_help_but_still_runs(capsys):
    from harness.cli import STAGES, build_parser

    listed = build_parser().format_help()
    assert "stage" not in listed.split() and "SUPPRESS" not in listed
    assert all(name in listed for name in STAGES if name != "stage")
    with pytest.raises(SystemExit) as exc:
        main(["stage", "--help"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("usage: smd stage")


def test_the_old_preset_spelling_still_works_and_says_it_is_deprecated(capsys, walk_file):
    rc, out, err = _run(capsys, ["describe", walk_file, "--preset", "v5_top3"])
    assert rc == 0
    assert out == smd.describe(np.load(walk_file), variant="v5_top3")
    assert err == "smd describe: warning: --preset is deprecated, use --variant\n"


def test_a_bad_argument_of_a_subcommand_gets_that_subcommand_s_usage(capsys, walk_file):
    with pytest.raises(SystemExit) as exc:
        main(["describe", str(walk_file), "--presets", "v5"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: smd describe") and "unrecognized arguments: --presets v5" in err


def test_plot_into_a_folder_names_the_image_after_the_motion(capsys, tmp_path, walk_file):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "figures"
    rc, out, err = _run(capsys, ["plot", walk_file, "-o", f"{folder}/"])
    assert rc == 0, err
    assert out.strip() == str(folder / "walk.png") and (folder / "walk.png").read_bytes()[:4] == b"\x89PNG"
    # an existing folder, named without the separator
    rc, out, err = _run(capsys, ["plot", walk_file, "-o", folder, "--variant", "v5_top3"])
    assert rc == 0 and out.strip() == str(folder / "walk.png"), err


@pytest.mark.parametrize(
    ("name", "words"), [("x.txt", "a .txt file is no image"), ("x", "no image extension")]
)
def test_plot_refuses_an_output_that_is_no_image_naming_the_formats(capsys, tmp_path, walk_file, name, words):
    pytest.importorskip("matplotlib")
    rc, _, err = _run(capsys, ["plot", walk_file, "-o", tmp_path / name])
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path / name}: {words}")
    assert "x.png" in err and ".pdf" in err and ".svg" in err and "folder ending in /" in err
    assert list(tmp_path.iterdir()) == [walk_file]


def test_a_y_up_file_read_as_z_up_is_told_as_a_swapped_axis_not_as_units(capsys, walk_file):
    rc, _, err = _run(capsys, ["describe", walk_file, "--up-axis", "z"])
    assert rc == 0
    (line,) = err.splitlines()
    assert line.startswith(f"warning: {walk_file}: the body stands along y, not z")
    assert "try --up-axis y" in line
    assert "metres" not in line


@pytest.mark.parametrize("command", ["make-demo", "build-smd", "make-docs", "evaluate", "train"])
def test_a_stage_s_help_names_it_as_smd_names_it(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: smd {command} ")


def test_plot_without_a_file_plots_the_built_in_demo_motion(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    rc, out, err = _run(capsys, ["plot", "-o", f"{tmp_path}/"])
    assert rc == 0, err
    assert out.strip() == str(tmp_path / "demo-motion.png")
    assert (tmp_path / "demo-motion.png").read_bytes()[:4] == b"\x89PNG"

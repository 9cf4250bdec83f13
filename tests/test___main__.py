import json

from gan_kit.__main__ import main


def test_config_command_applies_profile_and_overrides(capsys):
    assert main(["config", "--profile", "smoke", "--set", "epochs=3", "--set", "dataset=fashion_mnist"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["epochs"] == 3 and cfg["profile"] == "smoke" and cfg["image_size"] == 28


def test_recipe_flag_applies_a_named_recipe_then_the_overrides(capsys):
    assert main(["config", "--profile", "quick", "--recipe", "sngan", "--set", "batch_size=32"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert (cfg["loss"], cfg["spectral_norm"], cfg["d_beta1"], cfg["d_beta2"]) == ("hinge", True, 0.0, 0.9)
    assert cfg["batch_size"] == 32  # --set comes last
    assert main(["config", "--profile", "quick", "--recipe", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == "bce"


def test_bad_override_is_an_error_not_a_crash(capsys):
    assert main(["config", "--profile", "smoke", "--set", "epochs=-1"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_config_file_round_trip(tmp_path, capsys):
    from gan_kit import Config

    path = tmp_path / "c.json"
    Config(epochs=7).to_json(path)
    assert main(["config", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 7


# ----------------------------------------------------------------- eval, report and lab, as a user types them
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = ["--profile", "smoke", "--set", "dataset=digits", "--set", "epochs=2", "--set", "steps_per_epoch=2",
        "--set", "batch_size=16", "--set", "max_examples=64", "--set", "grid_size=2",
        "--set", "metrics_samples=64"]


def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m gan_kit ...`` in a subprocess, as a user runs it (TensorFlow's C++ log level not preset)."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environ["PYTHONPATH"] = str(REPO) + os.pathsep + environ.get("PYTHONPATH", "")
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "gan_kit", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One tiny run trained from the command line, with its own metrics cache."""
    root = tmp_path_factory.mktemp("cli")
    env = {"GAN_KIT_CACHE_DIR": str(root / "cache")}
    out = _cli("train", *TINY, "--set", f"output_dir={root / 'runs'}", cwd=root, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = (root / "runs").iterdir()
    return root, run, env, out


def test_train_prints_the_run_folder_and_no_tensorflow_start_up_lines(cli_run):
    root, run, _, out = cli_run
    assert f"run folder: {run} (finished)" in out.stdout
    noise = ("oneDNN custom operations", "cuInit", "absl::InitializeLog", "remapper failed")
    assert not [line for line in (out.stdout + out.stderr).splitlines() if any(n in line for n in noise)]


def test_eval_writes_metrics_json(cli_run):
    root, run, env, _ = cli_run
    out = _cli("eval", str(run), "--samples", "64", cwd=root, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    written = json.loads((run / "metrics.json").read_text())
    shown = json.loads(out.stdout.split("metrics:")[0])
    assert shown["fid"] == written["fid"] and written["samples"] == 64 and written["dataset"] == "digits"


def test_report_writes_markdown_and_html(cli_run, tmp_path):
    root, run, env, _ = cli_run
    out = _cli("report", str(run), "--out", str(tmp_path / "report"), cwd=root, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    md, page = tmp_path / "report" / "report.md", tmp_path / "report" / "report.html"
    assert md.is_file() and page.is_file() and run.name in md.read_text()
    assert "data:image/png;base64," in page.read_text()
    several = _cli("report", str(run), str(run), cwd=root, env=env)  # two sources and no --out: a clear error
    assert several.returncode == 2 and "--out" in several.stderr


def test_lab_runs_the_grid_and_builds_its_report(tmp_path):
    env = {"GAN_KIT_CACHE_DIR": str(tmp_path / "cache"), "GAN_KIT_PROFILE": "smoke"}
    out = _cli("lab", "--datasets", "digits", "--losses", "hinge", "--z-dims", "8", "--vae-latents", "4",
               "--out", str(tmp_path / "lab"), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    lab_state = json.loads((tmp_path / "lab" / "lab.json").read_text())
    assert [r["name"] for r in lab_state["runs"]] == ["digits-gan-hinge-z8", "digits-vae-z4"]
    assert {r["state"] for r in lab_state["runs"]} == {"trained"}
    assert (tmp_path / "lab" / "report" / "report.html").is_file() and "report:" in out.stdout


@pytest.mark.skipif(not (sys.platform == "linux" and os.uname().machine == "x86_64"),
                    reason="TensorFlow prints its oneDNN/cuInit start-up lines on x86-64 Linux")
def test_the_tf_logs_flag_shows_tensorflow_start_up_lines_again(tmp_path):
    quiet, loud = _cli("info", cwd=tmp_path), _cli("--tf-logs", "info", cwd=tmp_path)
    assert quiet.returncode == loud.returncode == 0, loud.stderr[-2000:]
    assert "fashion_mnist" in loud.stdout
    assert not any(n in quiet.stderr for n in ("oneDNN", "cuInit"))
    assert any(n in loud.stderr for n in ("oneDNN", "cuInit"))


# ----------------------------------------------------------------- the table of subcommands
def test_every_subcommand_has_its_arguments_and_its_run_in_one_table():
    from gan_kit.__main__ import COMMANDS, make_parser

    parser = make_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert set(choices) == set(COMMANDS) == {"info", "handouts", "release", "grade", "bench", "train", "config",
                                             "sweep", "eval", "report", "lab", "compare"}
    for name, (text, add_arguments, run) in COMMANDS.items():
        assert text and callable(add_arguments) and callable(run), name


def test_bench_names_an_unknown_model_and_the_choices(capsys):
    assert main(["bench", "--model", "no_such_model"]) == 2
    err = capsys.readouterr().err
    assert "no_such_model" in err and "dcgan_28" in err


def test_grade_without_submissions_or_with_both_inputs_says_what_it_takes(tmp_path, capsys):
    assert main(["grade", "--out", str(tmp_path)]) == 2
    assert "grade needs SUBMISSIONS" in capsys.readouterr().err
    assert main(["grade", str(tmp_path), "--merge-manual", str(tmp_path / "marks.csv"), "--out", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err

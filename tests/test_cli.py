import json

from gan_kit.__main__ import main


def test_config_command_applies_profile_and_overrides(capsys):
    assert main(["config", "--profile", "smoke", "--set", "epochs=3", "--set", "dataset=fashion_mnist"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["epochs"] == 3 and cfg["profile"] == "smoke" and cfg["image_size"] == 28


def test_bad_override_is_an_error_not_a_crash(capsys):
    assert main(["config", "--profile", "smoke", "--set", "epochs=-1"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_config_file_round_trip(tmp_path, capsys):
    from gan_kit import Config

    path = tmp_path / "c.json"
    Config(epochs=7).to_json(path)
    assert main(["config", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 7

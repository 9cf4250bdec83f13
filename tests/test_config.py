import json

import pytest

from gan_kit.config import PROFILE_SETTINGS, Config, ConfigError, for_profile, resolve_profile


def test_defaults_are_the_story1_assignment():
    cfg = Config()
    assert (cfg.dataset, cfg.batch_size, cfg.latent_dim, cfg.epochs) == ("cifar10", 256, 100, 50)
    assert (cfg.g_lr, cfg.g_beta1, cfg.d_dropout) == (1e-4, 0.5, 0.3)
    assert cfg.image_shape == (32, 32, 3)


def test_json_round_trip(tmp_path):
    cfg = Config(name="x", epochs=3, max_examples=512, label_smoothing=0.1)
    assert Config.from_json(cfg.to_json()) == cfg
    path = tmp_path / "c.json"
    cfg.to_json(path)
    assert Config.from_json(path) == cfg
    assert json.loads(path.read_text())["epochs"] == 3


@pytest.mark.parametrize(
    "field,value",
    [
        ("epochs", 0),
        ("epochs", 2.5),
        ("epochs", "10"),
        ("batch_size", -1),
        ("latent_dim", True),
        ("g_lr", 0.0),
        ("d_lr", -1e-3),
        ("d_lr", float("nan")),
        ("g_beta1", 1.0),
        ("d_beta2", 1.5),
        ("d_dropout", 1.0),
        ("label_smoothing", 0.7),
        ("dataset", "cifar11"),
        ("loss", "banana"),
        ("image_size", 64),
        ("channels", 2),
        ("profile", "fast"),
        ("seed", -3),
        ("name", "a/b"),
        ("refine", "yes"),
        ("max_examples", 0),
        ("steps_per_epoch", 0),
    ],
)
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ConfigError) as info:
        Config(**{field: value})
    assert f"`{field}`" in str(info.value)
    assert "Expected" in str(info.value)


def test_unknown_field_lists_valid_ones():
    with pytest.raises(ConfigError, match="Unknown config field.*epochz.*Valid fields"):
        Config.from_dict({"epochz": 3})
    with pytest.raises(ConfigError, match="Unknown config field"):
        Config().replace(learning_rate=1e-3)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ConfigError, match="fashion_mnist"):
        Config(dataset="imagenet")


def test_image_folder_needs_a_path():
    with pytest.raises(ConfigError, match="data_path"):
        Config(dataset="image_folder")


def test_batch_larger_than_subset_rejected():
    with pytest.raises(ConfigError, match="batch_size"):
        Config(batch_size=256, max_examples=100)


def test_bad_json_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid"):
        Config.from_json("{not json")
    with pytest.raises(ConfigError, match="Cannot read"):
        Config.from_json(tmp_path / "missing.json")


def test_profiles(monkeypatch):
    smoke = for_profile("smoke", dataset="fashion_mnist")
    assert smoke.profile == "smoke" and smoke.image_shape == (28, 28, 1)
    assert smoke.epochs == PROFILE_SETTINGS["smoke"]["epochs"]
    assert for_profile("smoke", epochs=5).epochs == 5  # overrides win over the profile
    full = for_profile("full")
    assert full.epochs == 50 and full.batch_size == 256
    monkeypatch.setenv("GAN_KIT_PROFILE", "quick")
    assert resolve_profile() == "quick"
    monkeypatch.setenv("GAN_KIT_PROFILE", "auto")
    assert resolve_profile() in ("quick", "full")
    monkeypatch.setenv("GAN_KIT_PROFILE", "turbo")
    with pytest.raises(ConfigError, match="GAN_KIT_PROFILE"):
        resolve_profile()


def test_diff():
    a, b = Config(), Config(epochs=3)
    assert a.diff(b) == {"epochs": (50, 3)}

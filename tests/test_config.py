import dataclasses
import json

import pytest

import gan_kit
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
        ("image_size", 48),
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


# ----------------------------------------------------------------- named recipes
def test_each_recipe_is_its_sources_settings():
    from gan_kit import recipes

    wgan = gan_kit.for_profile("full", recipe="wgan_gp")
    assert (wgan.loss, wgan.gp_weight, wgan.n_critic, wgan.d_norm) == ("wasserstein", 10.0, 5, "layer")
    assert (wgan.g_lr, wgan.d_lr, wgan.g_beta1, wgan.d_beta1, wgan.g_beta2, wgan.d_beta2) == (1e-4, 1e-4, 0, 0, .9, .9)
    sngan = gan_kit.for_profile("full", recipe="sngan")
    assert sngan.spectral_norm and sngan.loss == "hinge" and (sngan.g_lr, sngan.g_beta1, sngan.g_beta2) == (2e-4, 0, .9)
    paper = gan_kit.for_profile("full", recipe="dcgan_paper")
    assert (paper.image_size, paper.batch_size, paper.g_lr, paper.g_beta1, paper.refine, paper.d_dropout) == (
        64, 128, 2e-4, 0.5, False, 0.0)
    assignment = gan_kit.for_profile("full", recipe="assignment")
    assert assignment.to_dict() == gan_kit.for_profile("full").to_dict()  # story 1 is the kit's default
    assert set(recipes.RECIPES) == {"assignment", "dcgan_paper", "sngan", "wgan_gp", "fast_cpu"}
    for name in recipes.RECIPES:
        assert set(recipes.recipe(name)) <= {f.name for f in dataclasses.fields(gan_kit.Config)}


def test_recipes_keep_smoke_tiny_and_overrides_win():
    smoke = gan_kit.for_profile("smoke", recipe="dcgan_paper", dataset="cifar10")
    assert smoke.image_size == 64 and smoke.epochs == 2 and smoke.g_width == 8 and smoke.batch_size == 64
    assert gan_kit.for_profile("full", recipe="wgan_gp", n_critic=2).n_critic == 2
    with pytest.raises(ConfigError, match="Unknown recipe 'nope'.*wgan_gp"):
        gan_kit.for_profile("smoke", recipe="nope")


def test_quick_applies_each_datasets_measured_recipe_and_its_budget():
    from gan_kit import recipes

    fmnist = gan_kit.for_profile("quick", dataset="fashion_mnist")
    assert recipes.QUICK_RECIPES["fashion_mnist"] == recipes.QUICK_RECIPES["cifar10"] == "fast_cpu"
    assert (fmnist.loss, fmnist.upsample, fmnist.d_dropout) == ("hinge", "resize", 0.0)
    assert (fmnist.ema, fmnist.max_examples, fmnist.epochs, fmnist.batch_size) == (0.999, None, 10, 64)
    assert (fmnist.g_width, fmnist.d_width) == (32, 48)
    # The settings go with the dataset's quick recipe only: not with recipe="none", nor under another profile.
    plain = gan_kit.for_profile("quick", dataset="fashion_mnist", recipe="none")
    assert (plain.ema, plain.max_examples, plain.epochs, plain.loss, plain.upsample, plain.d_width) == (
        0.0, 10000, 10, "bce", "transpose", 32)
    assert gan_kit.for_profile("full", dataset="fashion_mnist").ema == 0.0
    assert gan_kit.for_profile("quick", dataset="fashion_mnist", recipe="sngan").max_examples == 10000
    cifar = gan_kit.for_profile("quick", dataset="cifar10")  # the recipe, without Fashion-MNIST's budget
    assert (cifar.loss, cifar.upsample, cifar.d_dropout) == ("hinge", "resize", 0.0)
    assert (cifar.ema, cifar.max_examples, cifar.epochs, cifar.d_width) == (0.999, 10000, 10, 32)
    assert gan_kit.for_profile("quick", dataset="mnist").loss == "bce"  # datasets not listed keep the defaults
    assert gan_kit.for_profile("quick", dataset="fashion_mnist", epochs=2).epochs == 2  # overrides still win
    smoke = gan_kit.for_profile("smoke", dataset="fashion_mnist")
    assert (smoke.ema, smoke.loss) == (0.0, "bce")  # smoke keeps the kit's defaults


def test_new_fields_are_validated():
    with pytest.raises(ConfigError, match="d_norm"):
        gan_kit.Config(d_norm="group")
    with pytest.raises(ConfigError, match="sgd_momentum"):
        gan_kit.Config(sgd_momentum=1.0)
    with pytest.raises(ConfigError, match="image_size.*vae"):
        gan_kit.Config(model="vae", image_size=64)
    assert gan_kit.Config(image_size=64).image_shape == (64, 64, 3)

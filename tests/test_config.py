import dataclasses
import json

import pytest

import gan_kit
from gan_kit import config as config_module
from gan_kit.config import (
    CONFIG_GROUPS,
    PROFILE_SETTINGS,
    Config,
    ConfigError,
    check_keys,
    for_profile,
    resolve_profile,
)


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


# ----------------------------------------------------------------- every config-file error names the file
def _write(tmp_path, text: str):
    path = tmp_path / "broken.json"
    path.write_text(text)
    return path


def test_invalid_json_names_the_file_line_and_column(tmp_path):
    path = _write(tmp_path, '{"epochs": 3,\n  "d_lr": 1e-4,\n}\n')
    with pytest.raises(ConfigError) as info:
        Config.from_json(path)
    message = str(info.value)
    assert str(path) in message and "not valid JSON" in message and "line 3, column 1" in message
    assert "no comma after the last item" in message  # the fix
    with pytest.raises(ConfigError, match="Config JSON text is not valid JSON.*line 1, column 2"):
        Config.from_json("{not json")


@pytest.mark.parametrize("text,kind", [("[1, 2]", "array"), ('"epochs"', "string"), ("3", "number")])
def test_a_file_that_is_not_an_object_names_the_file(tmp_path, text, kind):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Config.from_json(str(path))
    assert str(path) in str(info.value) and f"Received a JSON {kind}" in str(info.value)
    assert '{"epochs": 5}' in str(info.value)  # what the file should hold


def test_an_unreadable_file_or_a_non_dict_names_its_source(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"notes": "caf\xe9"}')  # not UTF-8
    with pytest.raises(ConfigError) as info:
        Config.from_json(path)
    assert f"Cannot read config file {path}" in str(info.value)
    with pytest.raises(ConfigError, match="^x.json: A config is built from a dict.*Received: list"):
        Config.from_dict([("epochs", 3)], source="x.json")


def test_an_unknown_key_in_a_file_names_the_file_and_the_closest_field(tmp_path):
    path = _write(tmp_path, '{"epochs": 3, "d_lrr": 1e-4}')
    with pytest.raises(ConfigError) as info:
        Config.from_json(path)
    message = str(info.value)
    assert f"in {path}" in message and "`d_lrr` (did you mean `d_lr`?)" in message
    assert "optimizer: loss, epochs" in message  # the valid fields, by group


def test_a_bad_value_in_a_file_names_the_file_the_field_and_the_fix(tmp_path):
    path = _write(tmp_path, '{"epochs": 0}')
    with pytest.raises(ConfigError) as info:
        Config.from_json(path)
    message = str(info.value)
    assert message.startswith(f"{path}: Config field `epochs` is invalid") and "an integer in [1, inf]" in message
    assert message.endswith(f"Fix that value in {path}.")


def test_read_config_names_the_run_folders_file(tmp_path):
    from gan_kit import runs

    (tmp_path / runs.CONFIG_FILE).write_text(json.dumps({"epochs": 2, "loss": "hinj"}))
    with pytest.raises(ConfigError) as info:
        runs.read_config(tmp_path)
    assert str(tmp_path / runs.CONFIG_FILE) in str(info.value) and "`loss`" in str(info.value)
    (tmp_path / runs.CONFIG_FILE).write_text(json.dumps({"epochs": 2, "los": "hinge"}))
    with pytest.raises(ConfigError, match="did you mean `loss`"):
        runs.read_config(tmp_path)


# ----------------------------------------------------------------- unknown and moved keys
def test_unknown_keys_name_the_closest_field_or_where_the_setting_lives():
    with pytest.raises(ConfigError, match=r"`epochz` \(did you mean `epochs`\?\)"):
        Config.from_dict({"epochz": 3})
    with pytest.raises(ConfigError, match="`learning_rate` .*`g_lr` and `d_lr`"):
        Config().replace(learning_rate=1e-3)
    with pytest.raises(ConfigError, match="`gp_weight` .*`gradient_penalty`"):
        for_profile("smoke", gp_weight=10.0)
    with pytest.raises(ConfigError, match="in --set: `n_critics` \\(did you mean `n_critic`\\?\\)"):
        check_keys(["n_critics", "epochs"], source="--set")
    with pytest.raises(ConfigError, match="`zzz`\\. Rename"):  # nothing close: no guess
        check_keys(["zzz"])
    check_keys(["epochs", "d_lr"])  # known keys pass


def test_old_config_files_keep_loading(tmp_path):
    """A config.json of the kit's first version (44 fields, jit_compile false, a smoke run) loads: the fields added
    since take their defaults and the recorded profile is kept."""
    first_version = {
        "name": "dcgan", "dataset": "fashion_mnist", "data_path": None, "image_size": 28, "channels": 1,
        "max_examples": 256, "latent_dim": 100, "g_width": 8, "d_width": 8, "refine": True, "d_dropout": 0.3,
        "epochs": 2, "batch_size": 64, "steps_per_epoch": 2, "g_lr": 1e-4, "d_lr": 1e-4, "g_beta1": 0.5,
        "g_beta2": 0.999, "d_beta1": 0.5, "d_beta2": 0.999, "loss": "bce", "gradient_penalty": None,
        "label_smoothing": 0.0, "label_noise": 0.0, "label_flip": 0.0, "instance_noise": 0.0,
        "instance_noise_epochs": 0, "n_critic": 1, "g_steps": 1, "g_optimizer": "adam", "d_optimizer": "adam",
        "spectral_norm": False, "minibatch_std": False, "upsample": "transpose", "ema": 0.0,
        "feature_matching": 0.0, "seed": 0, "profile": "smoke", "output_dir": "outputs/runs", "sample_every": 1,
        "checkpoint_every": 1, "grid_size": 8, "jit_compile": False, "notes": "",
    }
    from gan_kit import runs

    (tmp_path / runs.CONFIG_FILE).write_text(json.dumps(first_version))
    old = runs.read_config(tmp_path)
    assert old.profile == "smoke" and old.epochs == 2 and old.jit_compile is False
    assert (old.d_norm, old.g_to_image, old.reuse_fakes, old.model) == ("batch", "conv", True, "gan")
    assert Config.from_json(old.to_json()) == old


# ----------------------------------------------------------------- profile: applied by for_profile only
def test_profile_is_not_a_label_set_by_hand():
    for profile in ("smoke", "quick", "auto"):
        with pytest.raises(ConfigError, match=rf"`profile`.*for_profile\('{profile}'"):
            Config(profile=profile)
    assert Config(profile="full") == Config()  # full applies nothing: the defaults are the full config
    smoke = for_profile("smoke", dataset="fashion_mnist")
    assert smoke.profile == "smoke" and smoke.g_width == PROFILE_SETTINGS["smoke"]["g_width"]
    assert smoke.replace(epochs=3).profile == "smoke"  # a copy keeps what for_profile recorded
    with pytest.raises(ConfigError, match=r"for_profile\('full', base=config\)"):
        smoke.replace(profile="full")
    assert Config.from_json(smoke.to_json()) == smoke and Config.from_dict(smoke.to_dict()) == smoke
    assert for_profile("smoke", base=Config(epochs=9)).epochs == PROFILE_SETTINGS["smoke"]["epochs"]


# ----------------------------------------------------------------- groups and their validators
def test_every_field_is_in_exactly_one_group_in_source_order():
    names = [f.name for f in dataclasses.fields(Config)]
    grouped = [name for group in CONFIG_GROUPS.values() for name in group]
    assert grouped == names  # each field once, and the class lists the groups' sections in this order
    assert list(CONFIG_GROUPS) == ["model", "optimizer", "tricks", "vae_conditional", "data", "runtime", "logging"]
    assert list(config_module._VALIDATORS) == list(CONFIG_GROUPS)


def test_every_field_has_one_rule_and_each_validator_is_short():
    import inspect

    tables = [set(config_module._RANGES), set(config_module._CHOICES), config_module._BOOLS,
              config_module._STRINGS, config_module._OWN_RULES]
    for f in dataclasses.fields(Config):
        assert sum(f.name in t for t in tables) == 1, f.name
    for check in (*config_module._VALIDATORS.values(), config_module._validate, config_module._check_fields):
        assert len(inspect.getsource(check).splitlines()) <= 25, check.__name__


@pytest.mark.parametrize("field,value", [
    ("upsample", "bilinear"), ("g_to_image", "dense"), ("d_norm", "group"), ("g_width", 2),
    ("g_optimizer", "adamw"), ("n_critic", 101), ("steps_per_epoch", 1.5),
    ("gradient_penalty", float("nan")), ("ema", 1.0), ("diffaugment", "blur"), ("reuse_fakes", 1),
    ("recon_loss", "l1"), ("conditioning", "film"), ("num_classes", 1), ("beta", -0.1),
    ("data_path", 3), ("channels", True), ("max_examples", 0),
    ("jit_compile", "yes"), ("mixed_precision", "fp16"), ("distribute", "tpu"), ("steps_per_execution", 0),
    ("metrics_extractor", "vgg"), ("grid_size", 33), ("output_dir", ""), ("tensorboard", None),
])
def test_each_groups_validator_names_its_bad_field(field, value):
    with pytest.raises(ConfigError) as info:
        Config(**{field: value})
    assert f"`{field}`" in str(info.value) and "Expected" in str(info.value)

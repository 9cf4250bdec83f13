"""Each list of allowed values has one home (``gan_kit.config`` for every value a config field takes), every other
module reads it from there, and every registry keyed by such values holds exactly them. A value that several
modules check (label smoothing, the gradient penalty's weight, ...) is checked by one function they all call."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from gan_kit import config

PACKAGE = Path(__file__).resolve().parents[1] / "gan_kit"


# ----------------------------------------------------------------- the scan
def _literal(node: ast.AST) -> frozenset | None:
    """The values of a literal tuple, list or set of two or more constants of one type (str or int), also inside
    ``tuple(...)``, ``set(...)`` or ``frozenset(...)``; None for anything else."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("tuple", "set",
                                                                                          "frozenset"):
        return _literal(node.args[0]) if len(node.args) == 1 and not node.keywords else None
    if not isinstance(node, (ast.Tuple, ast.List, ast.Set)) or len(node.elts) < 2:
        return None
    if not all(isinstance(e, ast.Constant) for e in node.elts):
        return None
    kinds = {type(e.value) for e in node.elts}
    return frozenset(e.value for e in node.elts) if kinds in ({str}, {int}) else None


def _membership_sides(tree: ast.AST) -> Iterator[ast.AST]:
    """What a membership test reads its allowed values from: the right of ``in`` / ``not in``, and ``choices=``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            yield from (right for op, right in zip(node.ops, node.comparators) if isinstance(op, (ast.In, ast.NotIn)))
        elif isinstance(node, ast.keyword) and node.arg == "choices":
            yield node.value


def _constants(tree: ast.Module) -> Iterator[tuple[str, frozenset, int]]:
    """Module-level ``NAME = <literal>`` (and annotated) assignments: name, values, line."""
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else getattr(
            node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id != "__all__" and value is not None:
            values = _literal(value)
            if values is not None:
                yield target.id, values, node.lineno


def allowed_value_lists(package: Path = PACKAGE) -> dict[frozenset, list[str]]:
    """Every allowed-value list of the package's string values, by the strings it holds -> where each is defined.

    An allowed-value list is a literal of two or more strings that a membership test reads: written inline on the
    right of ``in`` / ``not in`` or as ``choices=``, or held by a module-level constant whose name such a test
    reads anywhere in the package (``x in NAMES``, ``x in module.NAMES``). Every module-level constant of
    ``config.py``, the homes, counts as well."""
    trees = {path: ast.parse(path.read_text()) for path in sorted(package.rglob("*.py"))}
    read: set[str] = set()
    found: dict[frozenset, list[str]] = defaultdict(list)
    for path, tree in trees.items():
        for side in _membership_sides(tree):
            values = _literal(side)
            if values is not None and all(isinstance(v, str) for v in values):
                found[values].append(f"{path.relative_to(package.parent)}:{side.lineno} (inline)")
            elif isinstance(side, (ast.Name, ast.Attribute)):
                read.add(side.id if isinstance(side, ast.Name) else side.attr)
    for path, tree in trees.items():
        for name, values, line in _constants(tree):
            if all(isinstance(v, str) for v in values) and (name in read or path.name == "config.py"):
                found[values].append(f"{path.relative_to(package.parent)}:{line} {name}")
    return found


def _defined_twice(found: dict[frozenset, list[str]]) -> dict[str, list[str]]:
    return {str(sorted(values)): where for values, where in found.items() if len(where) > 1}


def test_the_scan_finds_a_list_defined_twice(tmp_path):
    """The scan can fail: the same list in two modules, inline twice, or as choices= and a constant, is found."""
    package = tmp_path / "kit"
    package.mkdir()
    (package / "config.py").write_text('NORMS = ("batch", "layer")\nSPLITS = ("train", "test")\n')
    (package / "models.py").write_text('NORMS = ("layer", "batch")\n\ndef f(n):\n    return n in NORMS\n')
    (package / "cli.py").write_text('def g(p, x):\n    p.add_argument("--split", choices=["test", "train"])\n'
                                    '    return x in ("a", "b") or x not in ("b", "a")\n')
    (package / "other.py").write_text('COLUMNS = ("a", "b")  # never read by a membership test: not a list\n')
    twice = _defined_twice(allowed_value_lists(package))
    assert set(twice) == {"['batch', 'layer']", "['test', 'train']", "['a', 'b']"}
    assert len(twice["['a', 'b']"]) == 2  # the two inline tests, not the unread COLUMNS


def test_no_allowed_value_list_is_defined_twice():
    twice = _defined_twice(allowed_value_lists())
    assert not twice, "allowed-value lists defined more than once (give each one home and import it):\n" + "\n".join(
        f"  {values}: {', '.join(where)}" for values, where in sorted(twice.items()))


def test_the_config_lists_are_defined_in_config_only():
    """No module-level constant outside config.py holds the values of one of the config's lists (strings or
    integers: ``SUPPORTED_CHANNELS = (1, 3)`` in models would be a second home of ``CHANNELS``)."""
    homes = {frozenset(v): name for name, v in vars(config).items()
             if name.isupper() and isinstance(v, tuple) and len(v) > 1 and len({type(x) for x in v}) == 1}
    assert {"LOSS_NAMES", "RECON_LOSSES", "CONDITIONINGS", "CHANNELS", "IMAGE_SIZES", "OPTIMIZERS"} <= set(
        homes.values())
    copies = [f"{path.relative_to(PACKAGE.parent)}:{line} {name} (= config.{homes[values]})"
              for path in sorted(PACKAGE.rglob("*.py")) if path.name != "config.py" or path.parent != PACKAGE
              for name, values, line in _constants(ast.parse(path.read_text())) if values in homes]
    assert not copies, "import these from gan_kit.config instead:\n" + "\n".join(copies)


# ----------------------------------------------------------------- the modules read the homes
@pytest.mark.parametrize("module,name,home", [
    ("models", "CONDITIONINGS", "CONDITIONINGS"), ("models", "D_NORMS", "D_NORMS"),
    ("models", "RECON_LOSSES", "RECON_LOSSES"), ("models", "CHANNELS", "CHANNELS"),
    ("models", "UPSAMPLING", "UPSAMPLING"), ("models", "TO_IMAGE", "TO_IMAGE"),
    ("conditional", "CONDITIONINGS", "CONDITIONINGS"), ("losses", "RECON_LOSSES", "RECON_LOSSES"),
    ("vae", "RECON_LOSSES", "RECON_LOSSES"), ("gan", "OPTIMIZERS", "OPTIMIZERS"),
    ("metrics.extractors", "EXTRACTORS", "EXTRACTORS"), ("data.catalog", "DATASETS", "DATASET_NAMES"),
    ("augment", "POLICIES", "DIFFAUGMENT"),
])
def test_each_module_reads_the_list_from_its_home(module, name, home):
    import importlib

    assert getattr(importlib.import_module(f"gan_kit.{module}"), name) is getattr(config, home)


def test_the_config_checks_its_fields_against_the_homes():
    homes = {id(v) for name, v in vars(config).items() if name.isupper() and isinstance(v, tuple)}
    assert all(id(allowed) in homes for allowed in config._CHOICES.values())


# ----------------------------------------------------------------- registries equal their lists
def test_the_loss_registry_is_the_list_of_losses():
    from gan_kit import losses

    assert set(losses.LOSSES) == set(config.LOSS_NAMES)
    assert {name for name, pair in losses.LOSSES.items() if pair.uses_labels} == set(config.LABEL_LOSSES)


def test_the_other_registries_are_their_lists():
    from gan_kit import augment, models, recipes
    from gan_kit.data import catalog
    from gan_kit.metrics import classifier, extractors

    assert set(augment.TRANSFORMS) == set(config.DIFFAUGMENT)
    assert set(models.SUPPORTED_SIZES) == set(models.UPSAMPLINGS) == set(config.IMAGE_SIZES)
    assert set(config.VAE_SIZES) <= set(config.IMAGE_SIZES)
    assert set(config.NATIVE_SHAPES) == set(catalog._NATIVE_SHAPES) == set(config.DATASET_NAMES)
    assert set(config.PROFILE_SETTINGS) == set(config.PROFILES) - {"auto"}
    assert {extractors.ClassifierExtractor.name, extractors.InceptionExtractor.name} == set(config.EXTRACTORS)
    assert set(recipes.QUICK_RECIPES) <= set(config.DATASET_NAMES)
    assert set(classifier.CLASSIFIER_DATASETS) <= set(config.DATASET_NAMES)


def _shape(model) -> tuple:
    return tuple(model.outputs[0].shape)


def test_every_listed_value_builds():
    """The functions that branch on a listed value take every one of them (no list longer than the code)."""
    import numpy as np

    from gan_kit import gan, losses, models

    for name in config.OPTIMIZERS:
        assert gan.make_optimizer(name, 1e-3) is not None
    images = np.zeros((2, 28, 28, 1), "float32")
    for kind in config.RECON_LOSSES:
        assert losses.reconstruction_loss(images, images, kind).shape == (2,)
        assert _shape(models.build_decoder(4, (28, 28, 1), 4, recon_loss=kind)) == (None, 28, 28, 1)
    for upsample in config.UPSAMPLING:
        for to_image in config.TO_IMAGE:
            g = models.build_generator(4, (28, 28, 1), 4, upsample=upsample, to_image=to_image)
            assert _shape(g) == (None, 28, 28, 1)
    for norm in config.D_NORMS:
        assert _shape(models.build_discriminator((28, 28, 1), 4, norm=norm)) == (None, 1)
    for conditioning in config.CONDITIONINGS:
        assert models.build_conditional_discriminator(3, (28, 28, 1), 4, conditioning=conditioning) is not None


# ----------------------------------------------------------------- one check per value
def _message(error: pytest.ExceptionInfo) -> str:
    """The part of a range error after the field's name: the same rule gives the same words."""
    return str(error.value).split(" is invalid. ", 1)[1]


def test_label_tricks_are_checked_by_one_function():
    import keras

    from gan_kit.gan import GAN
    from gan_kit.models import build_discriminator, build_generator

    gan = GAN(build_generator(4, (28, 28, 1), 4), build_discriminator((28, 28, 1), 4), 4)
    optimizers = (keras.optimizers.Adam(), keras.optimizers.Adam())
    for field, value, loss in (("label_smoothing", 0.5, "bce"), ("label_flip", 0.6, "bce"),
                               ("label_noise", 0.1, "hinge")):
        with pytest.raises(config.ConfigError) as by_config:
            config.Config(**{field: value, "loss": loss})
        with pytest.raises(config.ConfigError) as by_compile:
            gan.compile(*optimizers, loss=loss, **{field: value})
        assert _message(by_config) == _message(by_compile) and field in _message(by_compile)
        assert "GAN.compile argument" in str(by_compile.value)
    with pytest.raises(config.ConfigError, match="gp_weight.*1000"):
        gan.compile(*optimizers, gp_weight=2000.0)
    with pytest.raises(config.ConfigError, match="GAN argument `ema`"):
        GAN(build_generator(4, (28, 28, 1), 4), build_discriminator((28, 28, 1), 4), 4, ema=1.0)


def test_the_vae_checks_beta_by_the_configs_rule():
    from gan_kit import models, vae

    enc, dec = models.build_encoder(4, (28, 28, 1), 4), models.build_decoder(4, (28, 28, 1), 4)
    with pytest.raises(config.ConfigError) as by_vae:
        vae.VAE(enc, dec, 4, beta=-1.0)
    with pytest.raises(config.ConfigError) as by_config:
        config.Config(beta=-1.0)
    assert _message(by_vae) == _message(by_config)

import numpy as np
import pytest

from gan_kit.config import for_profile
from gan_kit.models import build_discriminator, build_generator, build_models


@pytest.mark.parametrize("shape", [(32, 32, 3), (32, 32, 1), (28, 28, 1), (28, 28, 3), (64, 64, 3), (64, 64, 1)])
def test_shapes(shape):
    g = build_generator(16, shape, width=8)
    d = build_discriminator(shape, width=8)
    z = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    images = np.asarray(g(z, training=False))
    assert images.shape == (3, *shape)
    assert images.min() >= -1 and images.max() <= 1
    assert tuple(d(images, training=False).shape) == (3, 1)


def test_story1_generator_layout():
    g = build_generator(100, (32, 32, 3), width=64, refine=True)
    assert g.get_layer("project").units == 4 * 4 * 512
    ups = [layer for layer in g.layers if layer.name.startswith("up") and "_" not in layer.name]
    refines = [layer for layer in g.layers if layer.name.startswith("refine") and "_" not in layer.name]
    assert len(ups) == 3 and len(refines) == 3
    assert [u.filters for u in ups] == [256, 128, 64]
    assert all(r.kernel_size == (3, 3) for r in refines)


def test_refine_and_width_change_the_model():
    plain = build_generator(16, (32, 32, 3), width=8, refine=False)
    refined = build_generator(16, (32, 32, 3), width=8, refine=True)
    wider = build_generator(16, (32, 32, 3), width=16, refine=False)
    assert refined.count_params() > plain.count_params()
    assert wider.count_params() > plain.count_params()


def test_dropout_switch():
    with_drop = build_discriminator((28, 28, 1), width=8, dropout=0.3)
    no_drop = build_discriminator((28, 28, 1), width=8, dropout=0.0)
    assert any(layer.__class__.__name__ == "Dropout" for layer in with_drop.layers)
    assert not any(layer.__class__.__name__ == "Dropout" for layer in no_drop.layers)


@pytest.mark.parametrize("shape", [(48, 48, 3), (32, 28, 3), (32, 32, 2), (32, 32)])
def test_unbuildable_shapes_explain(shape):
    with pytest.raises(ValueError, match="image_shape"):
        build_generator(16, shape)


def test_build_models_from_config():
    cfg = for_profile("smoke", dataset="fashion_mnist")
    g, d = build_models(cfg)
    assert g.output_shape == (None, 28, 28, 1)
    assert d.output_shape == (None, 1)


def test_64_pixel_models_follow_the_dcgan_paper():
    from keras import layers

    g = build_generator(100, (64, 64, 3), width=64, refine=False, to_image="transpose")
    shapes = [tuple(layer.output.shape[1:]) for layer in g.layers if isinstance(layer, layers.Conv2DTranspose)]
    assert shapes == [(8, 8, 512), (16, 16, 256), (32, 32, 128), (64, 64, 3)]  # Radford et al.'s Figure 1
    assert tuple(g.layers[3].output.shape[1:]) == (4, 4, 1024)
    d = build_discriminator((64, 64, 3), width=64, dropout=0.0)
    convs = [tuple(layer.output.shape[1:]) for layer in d.layers if isinstance(layer, layers.Conv2D)]
    assert convs == [(32, 32, 64), (16, 16, 128), (8, 8, 256), (4, 4, 512)]
    assert d.output_shape == (None, 1)


def test_the_discriminator_normalisation_is_the_configured_one():
    from keras import layers

    kinds = {norm: {type(layer).__name__ for layer in build_discriminator((32, 32, 3), 8, norm=norm).layers}
             for norm in ("batch", "layer", "none")}
    assert "BatchNormalization" in kinds["batch"] and "LayerNormalization" not in kinds["batch"]
    assert "LayerNormalization" in kinds["layer"] and "BatchNormalization" not in kinds["layer"]
    assert not {"BatchNormalization", "LayerNormalization"} & kinds["none"]
    spectral = build_discriminator((32, 32, 3), 8, spectral_norm=True)
    assert not any(isinstance(layer, layers.BatchNormalization) for layer in spectral.layers)
    with pytest.raises(ValueError, match="norm must be one of"):
        build_discriminator((32, 32, 3), 8, norm="group")


def test_a_64x64_image_folder_trains_with_the_dcgan_paper_recipe(tmp_path):
    """Story 5's own photos at 64x64: odd sizes and modes in a folder, the paper's 64x64 architecture, a
    finished run whose samples are 64x64."""
    from PIL import Image

    import gan_kit
    from gan_kit import runs

    rng = np.random.default_rng(0)
    for i in range(24):
        size = (int(rng.integers(50, 120)), int(rng.integers(50, 120)))
        mode = "RGB" if i % 3 else "L"
        folder = tmp_path / "photos" / ("fist" if i % 2 else "palm")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (*size[::-1], 3 if mode == "RGB" else 1)).squeeze().astype("uint8"),
                        mode).save(folder / f"{i}.{'png' if i % 4 else 'jpg'}")
    config = gan_kit.for_profile("smoke", recipe="dcgan_paper", dataset="image_folder",
                                 data_path=str(tmp_path / "photos"), output_dir=str(tmp_path / "runs"), batch_size=8,
                                 g_width=4, d_width=4, tensorboard=False)
    assert config.image_shape == (64, 64, 3) and config.g_to_image == "transpose" and not config.refine
    run = gan_kit.train(config, verbose=0)
    assert run.status == "finished" and run.generator.output_shape[1:] == (64, 64, 3)
    assert run.sample(4, seed=0).shape == (4, 64, 64, 3)
    assert runs.sample_paths(run.path)  # fixed-noise grids were drawn at 64x64

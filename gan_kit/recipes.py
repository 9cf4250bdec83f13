"""Named recipes: sets of config values from a paper or a measurement, applied with
``for_profile(..., recipe=name)`` or ``python -m gan_kit train --recipe name``.

A recipe fixes the algorithm (losses, optimizers, normalisation, tricks) and, where its source
fixes them, the batch size and the image size; the profile fixes the budget (epochs, examples,
widths). Each entry names its source. ``QUICK_RECIPES`` is the recipe the ``quick`` profile uses
per dataset when none is asked for (measured by ``python -m gan_kit bench --quality``).
"""

from __future__ import annotations

from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    # The DCGAN assignment exactly: the kit's defaults (DCGAN with 3x3 refinement convs after each
    # upsampling, BCE from logits, Adam(1e-4, beta1=0.5) for both, batch 256, 100-d noise, 50 epochs,
    # a grid every 10 epochs).
    "assignment": {"loss": "bce", "g_lr": 1e-4, "d_lr": 1e-4, "g_beta1": 0.5, "d_beta1": 0.5, "g_beta2": 0.999,
                   "d_beta2": 0.999, "batch_size": 256, "latent_dim": 100, "refine": True, "d_dropout": 0.3,
                   "d_norm": "batch", "epochs": 50, "sample_every": 10, "g_optimizer": "adam", "d_optimizer": "adam"},
    # Radford, Metz & Chintala 2016, "Unsupervised representation learning with deep convolutional GANs":
    # 64x64 images, four stride-2 (transposed) convolutions, the last producing the image, BatchNorm in
    # both networks (not on D's input layer nor G's output), LeakyReLU(0.2) in D, no dropout, Adam(2e-4,
    # beta1=0.5), batch 128, 100-d noise.
    "dcgan_paper": {"loss": "bce", "g_lr": 2e-4, "d_lr": 2e-4, "g_beta1": 0.5, "d_beta1": 0.5, "g_beta2": 0.999,
                    "d_beta2": 0.999, "batch_size": 128, "latent_dim": 100, "image_size": 64, "refine": False,
                    "g_to_image": "transpose", "d_dropout": 0.0, "d_norm": "batch", "g_optimizer": "adam",
                    "d_optimizer": "adam"},
    # Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral normalization for GANs": spectral norm on every
    # layer of D (no BatchNorm), the hinge loss, Adam(2e-4, beta1=0, beta2=0.9), one D step per G step
    # (their n_dis=1 setting for Adam with these betas), batch 64.
    "sngan": {"loss": "hinge", "spectral_norm": True, "d_norm": "none", "g_lr": 2e-4, "d_lr": 2e-4, "g_beta1": 0.0,
              "d_beta1": 0.0, "g_beta2": 0.9, "d_beta2": 0.9, "n_critic": 1, "batch_size": 64, "d_dropout": 0.0,
              "g_optimizer": "adam", "d_optimizer": "adam"},
    # Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, "Improved training of Wasserstein GANs":
    # the Wasserstein critic loss with a gradient penalty of weight 10, 5 critic steps per G step,
    # Adam(1e-4, beta1=0, beta2=0.9), no BatchNorm in the critic (they suggest layer normalisation),
    # batch 64.
    "wgan_gp": {"loss": "wasserstein", "gradient_penalty": 10.0, "n_critic": 5, "d_norm": "layer",
                "spectral_norm": False, "g_lr": 1e-4, "d_lr": 1e-4, "g_beta1": 0.0, "d_beta1": 0.0, "g_beta2": 0.9,
                "d_beta2": 0.9, "batch_size": 64, "d_dropout": 0.0, "g_optimizer": "adam", "d_optimizer": "adam"},
    # The kit's pick for a 2-core CPU budget (docs/development.md, "Quality per CPU-minute": quick runs stopped
    # after 2 and 5 wall-clock minutes, as ``python -m gan_kit bench --quality`` does): the DCGAN-paper optimizer
    # (Adam(2e-4, beta1=0.5), Radford et al. 2016) at batch 64 for many cheap steps, with three changes:
    # nearest-neighbour resizing + 3x3 conv instead of transposed convs in G (Odena, Dumoulin & Olah 2016,
    # "Deconvolution and checkerboard artifacts"), the hinge loss (Lim & Ye 2017; Miyato et al. 2018) and no
    # dropout in D (the DCGAN paper has none; it also makes each step cheaper). On the CIFAR-10 subset at 2 and
    # 5 minutes: the defaults FID 39.9 and 20.2, resizing alone 24.4 and 19.5, all three 22.7 and 11.6. Samples
    # come from an exponential moving average of G's weights (decay 0.999, warmed up as min(0.999, (1+t)/(10+t));
    # Yazici et al. 2019, "The unusual effectiveness of averaging in GAN training"; Karras et al. 2018): G itself
    # oscillates (CIFAR-10 quick, 2,000 samples: epochs 1 / 5 / 10 FID 42.1 / 27.0 / 29.8), its average does not
    # (43.5 / 23.7 / 18.8); at 2 minutes 18.3 against G's 27.7, at 5 minutes 13.9 against 10.5 (it lags a little
    # there), and on Fashion-MNIST (D at 32, 11k steps) 1.75 against 2.31.
    "fast_cpu": {"loss": "hinge", "upsample": "resize", "d_dropout": 0.0, "g_lr": 2e-4, "d_lr": 2e-4, "g_beta1": 0.5,
                 "d_beta1": 0.5, "g_beta2": 0.999, "d_beta2": 0.999, "batch_size": 64, "ema": 0.999,
                 "g_optimizer": "adam", "d_optimizer": "adam"},
}
QUICK_RECIPES: dict[str, str] = {"fashion_mnist": "fast_cpu", "cifar10": "fast_cpu"}
"""dataset -> the recipe ``quick`` applies when none is given (datasets not listed keep the kit's defaults)."""

QUICK_SETTINGS: dict[str, dict[str, Any]] = {
    "fashion_mnist": {"max_examples": None, "epochs": 10, "d_width": 48},
}
"""dataset -> what ``quick`` adds to that dataset's quick recipe (applied with that recipe only).

Fashion-MNIST: the whole 60k train split rather than a 10k subset, so that D sees fresh images for the whole budget,
a wider D (48 base filters instead of quick's 32) and 10 epochs (9,370 steps; about 9 minutes on a 2-core CPU).
Measured (10,000 samples, EMA sampler): with D at 32, 11 epochs scored FID 1.75 and recall 0.50; with D at 48 (each
step 13% slower, G unchanged), 10 epochs scored FID 1.45-1.50 and recall 0.58-0.60. A wider G was not worth its
cost (48 filters: 52% slower steps)."""

__all__ = ["QUICK_RECIPES", "QUICK_SETTINGS", "RECIPES", "recipe"]


def recipe(name: str) -> dict[str, Any]:
    """A copy of the recipe's config values.

    Raises:
        KeyError: for an unknown name, listing the valid ones.
    """
    try:
        return dict(RECIPES[name])
    except KeyError:
        raise KeyError(f"Unknown recipe {name!r}. Valid recipes: {sorted(RECIPES)}.") from None

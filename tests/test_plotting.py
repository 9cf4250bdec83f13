import math

import numpy as np
import pytest
from PIL import Image

from gan_kit import images, plotting, records, runs


def test_image_grid_layout():
    imgs = np.zeros((6, 4, 4, 1), np.float32)
    imgs[1] = 1.0
    grid = images.image_grid(imgs, ncols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 1) and grid.dtype == np.uint8
    assert grid[1, 6, 0] == 255 and grid[1, 1, 0] == 128  # image 1 is white; -> 0.0 maps to 128


def test_save_image_grid_and_gif(tmp_path):
    imgs = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 3))
    p1 = images.save_image_grid(imgs, tmp_path / "a.png", scale=1)
    p2 = images.save_image_grid(-imgs, tmp_path / "b.png", scale=1)
    assert Image.open(p1).size == (2 * 10 + 2, 2 * 10 + 2)
    gif = images.save_gif([p1, p2], tmp_path / "p.gif")
    assert Image.open(gif).n_frames == 2
    with pytest.raises(ValueError):
        images.save_gif([], tmp_path / "q.gif")


def test_plot_history_from_dict_and_folder(tmp_path):
    history = {"epoch": [1, 2, 3], "g_loss": [1, 2, 3], "d_loss": [1, 0.5, 0.2],
               "d_real_prob": [0.6, 0.7, 0.9], "d_fake_prob": [0.4, 0.3, 0.1], "epoch_time": [2, 1, 1]}
    fig = plotting.plot_history(history, save_to=tmp_path / "h.png")
    assert len(fig.axes) == 3
    assert any(line.get_linestyle() == "--" and list(line.get_ydata()) == [0.5, 0.5] for line in fig.axes[1].lines)
    assert (tmp_path / "h.png").stat().st_size > 0
    runs.write_history(tmp_path, history)
    assert len(plotting.plot_history(tmp_path).axes) == 3
    with pytest.raises(ValueError, match="history"):
        plotting.plot_history(tmp_path / "empty")


def test_show_samples(tmp_path):
    (tmp_path / "samples").mkdir()
    for e in (0, 1, 2):
        images.save_image_grid(np.zeros((4, 8, 8, 1)), tmp_path / "samples" / f"epoch_{e:04d}.png")
    fig = plotting.show_samples(tmp_path)
    assert [ax.get_title() for ax in fig.axes] == ["epoch 0000", "epoch 0001", "epoch 0002"]
    fig = plotting.show_images(np.zeros((4, 8, 8, 1)), title="t")
    assert fig.axes[0].get_title() == "t"


def test_plot_side_by_side_draws_curves_and_both_kinds_of_samples():  # moved from test_gan.py
    import matplotlib

    matplotlib.use("Agg")
    from gan_kit.plotting import plot_side_by_side
    from gan_kit.ring import mode_coverage_2d, ring_data

    hist = {"g_loss": [1.0, 0.8], "d_loss": [1.3, 1.2], "d_real_prob": [0.6, 0.7], "d_fake_prob": [0.4, 0.3]}
    points = ring_data(200)
    fig = plot_side_by_side({"baseline": hist, "change": {**hist, "epoch": [1, 2]}},
                            {"baseline": points, "change": np.zeros((4, 8, 8, 1), np.float32)},
                            coverage={"baseline": mode_coverage_2d(points)}, title="t")
    axes = fig.axes
    assert len(axes) == 4
    assert len(axes[0].lines) == 4 and len(axes[1].lines) == 5  # two runs x two columns (+ the 0.5 line)
    assert "8/8 modes covered" in axes[2].get_title() and axes[3].images
    with pytest.raises(ValueError):
        plot_side_by_side({}, {})


def test_show_image_groups_one_titled_panel_per_group():  # moved from test_gan.py
    import matplotlib

    matplotlib.use("Agg")
    from gan_kit.plotting import show_image_groups

    fig = show_image_groups({"real": np.zeros((4, 8, 8, 3), np.uint8), "generated": np.ones((9, 8, 8, 1))},
                            title="t")
    assert [ax.get_title() for ax in fig.axes] == ["real", "generated"]
    with pytest.raises(ValueError):
        show_image_groups({})


def test_plot_steps_draws_each_run_and_names_a_missing_table(tmp_path):
    rng = np.random.default_rng(0)
    noisy = {"step": list(range(1, 101)), "d_loss": list(1 + rng.normal(0, 0.5, 100)), "g_loss": [1.0] * 100}
    calm = {"step": list(range(1, 101)), "d_loss": list(1 + rng.normal(0, 0.05, 100)), "g_loss": [1.0] * 100}
    runs.write_history(tmp_path, calm, file=runs.STEPS_FILE)
    fig = plotting.plot_steps({"batch 32": noisy, "batch 128": tmp_path}, window=10, save_to=tmp_path / "s.png")
    assert len(fig.axes) == 2 and (tmp_path / "s.png").stat().st_size > 0
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["batch 32", "batch 128"]
    assert records.step_noise(noisy["d_loss"], 10) > 5 * records.step_noise(calm["d_loss"], 10)
    assert records.step_noise([2.0] * 50, 10) == 0.0 and math.isnan(records.step_noise([1.0, 2.0], 10))
    with pytest.raises(ValueError, match="log_steps=True"):
        plotting.plot_steps({"none": tmp_path / "missing"})

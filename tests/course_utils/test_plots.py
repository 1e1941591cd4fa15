"""course_utils.plots, metrics and models: every helper returns a Figure with the right content."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import course_utils


@pytest.fixture(scope="module")
def cifar():
    return course_utils.get_data_cifar(data_size=200, synthetic=True)


def titles(fig):
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def test_random_plot_titles_columns_with_class_names(cifar):
    (x, y), _ = cifar
    fig = course_utils.random_plot(x, y, class_names=course_utils.CIFAR10_CLASSES, seed=0)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 50
    assert titles(fig)[:10] == course_utils.CIFAR10_CLASSES
    assert not plt.get_fignums(), "helpers must not leave figures open in pyplot"


def test_random_plot_with_predictions_shows_true_and_predicted(cifar):
    (x, y), _ = cifar
    predicted = (y + 1) % 10
    fig = course_utils.random_plot(x, y, predict=predicted, class_names=course_utils.CIFAR10_CLASSES, rows=2, seed=1)
    assert len(fig.axes) == 20
    assert titles(fig)[0] == "airplane -> automobile"
    assert all(ax.title.get_color() == "red" for ax in fig.axes)


def test_random_plot_accepts_probabilities_and_flat_rows():
    x = np.zeros((20, 784), np.float32)
    y = np.arange(20) % 10
    probs = np.eye(10)[y]
    fig = course_utils.random_plot(x, y, predict=probs, rows=1)
    assert titles(fig) == [f"{i} -> {i}" for i in range(10)]


def test_random_plot_leaves_missing_classes_blank():
    x = np.zeros((4, 28, 28, 1), np.float32)
    fig = course_utils.random_plot(x, np.array([0, 0, 2, 2]), class_names=course_utils.MNIST_CLASSES, rows=2)
    assert len(titles(fig)) == 4  # two of class 0, two of class 2, the rest empty


def history(epochs=3, val=True):
    h = {"accuracy": [0.5, 0.6, 0.7][:epochs], "loss": [1.0, 0.8, 0.6][:epochs]}
    if val:
        h |= {"val_accuracy": [0.4, 0.5, 0.55][:epochs], "val_loss": [1.1, 0.9, 0.95][:epochs]}
    return h


def test_plot_result_draws_train_and_validation_side_by_side():
    fig = course_utils.plot_result(history())
    acc, loss = fig.axes
    assert (acc.get_title(), loss.get_title()) == ("Model accuracy", "Model loss")
    assert [line.get_label() for line in acc.lines] == ["Train", "Validation"]
    np.testing.assert_allclose(loss.lines[1].get_ydata(), [1.1, 0.9, 0.95])
    assert acc.get_xlabel() == "Epoch"


def test_plot_result_without_validation_draws_training_only():
    fig = course_utils.plot_result(history(val=False))
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]


def test_plot_result_rejects_what_is_not_a_history():
    with pytest.raises(TypeError, match="History"):
        course_utils.plot_result([0.1, 0.2])


def test_plot_histories_overlays_one_line_per_run():
    runs = {f"p={p:.1f}": history() for p in (0.0, 0.2, 0.4)}
    fig = course_utils.plot_histories(runs, metrics=("loss", "val_loss"))
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_loss"]
    assert [line.get_label() for line in fig.axes[1].lines] == ["p=0.0", "p=0.2", "p=0.4"]


def test_plot_filters_draws_one_tile_per_filter():
    kernel = np.random.default_rng(0).normal(size=(5, 5, 1, 6))
    fig = course_utils.plot_filters(kernel)
    assert titles(fig) == [f"filter {i}" for i in range(6)]
    rgb = course_utils.plot_filters(np.random.default_rng(0).normal(size=(3, 3, 3, 40)), max_filters=16)
    assert len(titles(rgb)) == 16
    assert rgb.axes[0].images[0].get_array().shape == (3, 3, 3)


def test_plot_filters_rejects_a_dense_kernel():
    with pytest.raises(ValueError, match="Conv2D kernel"):
        course_utils.plot_filters(np.zeros((784, 10)))


def test_plot_feature_maps_titles_channels():
    fig = course_utils.plot_feature_maps(np.zeros((1, 14, 14, 6)), title="conv1")
    assert titles(fig) == [f"ch {i}" for i in range(6)]
    assert fig._suptitle.get_text() == "conv1"


def test_confusion_matrix_counts_match():
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    fig = course_utils.plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_title() == "Confusion matrix"
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1", "1", "0", "0", "2", "0", "1", "0", "0"]


def test_per_class_metrics_and_their_plot():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 1, 2])
    m = course_utils.per_class_metrics(y_true, y_pred, ["a", "b", "c"])
    np.testing.assert_allclose(m["precision"], [1.0, 0.5, 1.0])
    np.testing.assert_allclose(m["recall"], [0.5, 1.0, 0.5])
    fig = course_utils.plot_precision_recall(y_true, y_pred, ["a", "b", "c"])
    bars = fig.axes[0].patches
    assert len(bars) == 6
    assert [round(b.get_height(), 2) for b in bars] == [1.0, 0.5, 1.0, 0.5, 1.0, 0.5]


def test_plot_misclassified_shows_only_errors_of_the_chosen_class():
    x = np.zeros((6, 28, 28, 1))
    y_true = np.array([8, 8, 3, 8, 1, 8])
    y_pred = np.array([8, 3, 5, 0, 1, 8])
    fig = course_utils.plot_misclassified(x, y_true, y_pred, true_class=8)
    assert titles(fig) == ["8 -> 3", "8 -> 0"]
    assert "2 misclassified" in fig._suptitle.get_text()
    none = course_utils.plot_misclassified(x, y_true, y_true)
    assert none.texts[0].get_text() == "no misclassified examples"

"""model_setup, feature_maps, model_diagram and check_environment on real Keras models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import course_utils
from course_utils import models


def tiny_cnn():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Dropout(0.5),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.mark.parametrize(
    "name, cls, rate",
    [
        ("adam", keras.optimizers.Adam, 1e-3),
        ("sgd", keras.optimizers.SGD, 1e-2),
        ("rmsprop", keras.optimizers.RMSprop, 1e-3),
        ("adadelta", keras.optimizers.Adadelta, 1.0),
    ],
)
def test_model_setup_compiles_with_explicit_learning_rates(name, cls, rate):
    model = course_utils.model_setup(tiny_cnn(), optimizer=name)
    assert isinstance(model.optimizer, cls)
    assert float(model.optimizer.learning_rate) == pytest.approx(rate)
    assert model.loss == "sparse_categorical_crossentropy"


def test_model_setup_uses_the_given_learning_rate():
    model = course_utils.model_setup(tiny_cnn(), "adadelta", lr=0.5)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)


def test_model_setup_rejects_unknown_optimizer_listing_choices():
    with pytest.raises(ValueError, match="adam, sgd, rmsprop, adadelta"):
        course_utils.model_setup(tiny_cnn(), optimizer="lbfgs")


def test_model_setup_rejects_nonpositive_rate():
    with pytest.raises(ValueError, match="正の数"):
        course_utils.model_setup(tiny_cnn(), lr=0)


def test_compiled_model_trains_on_integer_labels():
    (x, y), _ = course_utils.get_data_mnist(data_size=64, synthetic=True)
    model = course_utils.model_setup(tiny_cnn())
    history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25)
    assert set(history.history) == {"accuracy", "loss", "val_accuracy", "val_loss"}


@pytest.mark.parametrize(
    "grading, train_size, epochs, eager",
    [("1", 256, 1, True), ("1", 512, 2, True), ("1", 600, 2, False), ("0", 256, 1, False)],
)
def test_model_setup_runs_eagerly_only_for_small_grading_runs(monkeypatch, grading, train_size, epochs, eager):
    monkeypatch.setenv("COURSE_GRADING_MODE", grading)
    monkeypatch.setenv("COURSE_GRADING_TRAIN_SIZE", str(train_size))
    monkeypatch.setenv("COURSE_GRADING_EPOCHS", str(epochs))
    model = course_utils.model_setup(tiny_cnn())
    assert model.run_eagerly is eager


def test_feature_maps_of_one_image_by_name_and_index():
    model = tiny_cnn()
    image = np.random.default_rng(0).random((28, 28, 1), dtype=np.float32)
    conv = course_utils.feature_maps(model, "conv", image)
    pool = course_utils.feature_maps(model, 1, image)
    assert conv.shape == (1, 26, 26, 4) and pool.shape == (1, 13, 13, 4)
    assert (conv >= 0).all()  # after ReLU


def test_feature_maps_rejects_a_foreign_layer():
    with pytest.raises(ValueError, match="not a layer"):
        course_utils.feature_maps(tiny_cnn(), keras.layers.Dense(3), np.zeros((28, 28, 1)))


def test_model_diagram_draws_png_when_graphviz_is_there(tmp_path):
    assert models.diagram_available(), "graphviz and pydot are installed by the project"
    image = course_utils.model_diagram(tiny_cnn(), to_file=str(tmp_path / "m.png"))
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_diagram_falls_back_to_the_summary(monkeypatch, capsys):
    monkeypatch.setattr(models, "diagram_available", lambda: False)
    text = course_utils.model_diagram(tiny_cnn())
    assert "Graphviz" in capsys.readouterr().out
    assert "conv (Conv2D)" in text and repr(text) == str(text)


def test_check_environment_reports_versions(capsys):
    found = course_utils.check_environment()
    assert found["keras"].startswith("3.")
    assert "keras 3." in capsys.readouterr().out


def test_check_environment_fails_readably_when_keras_is_too_old():
    with pytest.raises(RuntimeError, match="Keras .* は古すぎます"):
        course_utils.check_environment(min_keras="99.0")


def test_model_layers_and_feature_maps_index_sequential_and_functional_models_alike():
    import keras
    from keras import layers

    import course_utils

    seq = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)])
    inputs = keras.Input((8, 8, 1))
    func = keras.Model(inputs, layers.Dense(3)(layers.Flatten()(layers.Conv2D(2, 3)(inputs))))
    kinds = [[type(layer).__name__ for layer in course_utils.model_layers(m)] for m in (seq, func)]
    assert kinds == [["Conv2D", "Flatten", "Dense"]] * 2
    x = np.ones((8, 8, 1), dtype="float32")
    assert course_utils.feature_maps(seq, 0, x).shape == course_utils.feature_maps(func, 0, x).shape == (1, 6, 6, 2)

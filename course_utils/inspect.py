"""Looking inside trained models: activations, per-class metrics, the model diagram."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["diagram_available", "feature_maps", "model_diagram", "per_class_metrics"]


def _find_layer(model: Any, layer: Any) -> Any:
    if isinstance(layer, int):
        return model.layers[layer]
    if isinstance(layer, str):
        return model.get_layer(layer)
    if layer in model.layers:
        return layer
    raise ValueError(f"{layer!r} is not a layer of this model.")


def feature_maps(model: Any, layer: Any, x: np.ndarray) -> np.ndarray:
    """Output of ``layer`` (index, name or Layer) of a trained model for input ``x``.

    ``x`` is one image (H, W, C) or a batch; the result has a batch axis. Layers run in
    inference mode, so Dropout is off. Introduced in B2-1.
    """
    import keras

    target = _find_layer(model, layer)
    x = np.asarray(x, dtype=np.float32)
    expected = len(model.inputs[0].shape) if getattr(model, "inputs", None) else x.ndim + 1
    if x.ndim == expected - 1:
        x = x[None]
    if isinstance(model, keras.Sequential):
        out = x
        for current in model.layers:
            out = current(out, training=False)
            if current is target:
                return keras.ops.convert_to_numpy(out)
    sub = keras.Model(inputs=model.inputs, outputs=target.output)
    return np.asarray(sub.predict(x, verbose=0))


def per_class_metrics(
    y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Precision, recall, F1 and support per class (scikit-learn). Introduced in B1-1.

    Returns a dict of arrays keyed precision, recall, f1, support, plus class_names.
    A class never predicted gets precision 0 (no warning is printed).
    """
    from sklearn.metrics import precision_recall_fscore_support

    from .plots import _labels

    t, p = _labels(y_true), _labels(y_pred)
    n = len(class_names) if class_names is not None else int(max(t.max(), p.max())) + 1
    precision, recall, f1, support = precision_recall_fscore_support(
        t, p, labels=list(range(n)), zero_division=0
    )
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    return {
        "class_names": names,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
    }


def diagram_available() -> bool:
    """True when pydot and Graphviz' ``dot`` are installed, so plot_model can draw."""
    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def model_diagram(model: Any, to_file: str = "model.png", show_shapes: bool = True) -> Any:
    """The model as a diagram (keras.utils.plot_model), or its text summary. Introduced in B2-1.

    Drawing needs pydot and Graphviz; without them this prints how to install them and
    returns the summary text instead of failing the cell.
    """
    if diagram_available():
        import keras
        from IPython.display import Image

        keras.utils.plot_model(model, to_file=to_file, show_shapes=show_shapes, dpi=72)
        return Image(filename=to_file)
    print(
        "Model diagram needs pydot and Graphviz: pip install pydot and apt-get install "
        "graphviz (Colab has both). Showing the text summary instead."
    )
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return _Text("\n".join(lines))


class _Text(str):
    """A string that a notebook shows as text, not as its quoted repr."""

    def __repr__(self) -> str:
        return str(self)

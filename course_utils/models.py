"""Looking inside models: activations of a layer and the model diagram. Introduced in B2-1."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np

__all__ = ["diagram_available", "feature_maps", "model_diagram", "model_layers"]


def model_layers(model: Any) -> list[Any]:
    """モデルが計算に使う層のリスト (入力の ``InputLayer`` を除く)。Sequential でも関数型 API
    (``keras.Model(inputs, outputs)``) でも、同じ層なら同じリストになる。Introduced in B2-3."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _find_layer(model: Any, layer: Any) -> Any:
    if isinstance(layer, int):
        return model_layers(model)[layer]
    if isinstance(layer, str):
        return model.get_layer(layer)
    if layer in model.layers:
        return layer
    raise ValueError(f"{layer!r} はこのモデルの層ではありません (not a layer of this model)。層の番号・名前・層そのもののどれかを渡してください。")


def feature_maps(model: Any, layer: Any, x: np.ndarray) -> np.ndarray:
    """学習したモデルに ``x`` を入れたときの、層 ``layer`` の出力 (特徴マップ、feature map)。

    ``layer`` は :func:`model_layers` の添字・層の名前・層そのもののどれか。``x`` は画像 1 枚
    (H, W, C) かバッチで、結果にはバッチの軸が付く。推論モードで計算する (Dropout は働かない)。
    Introduced in B2-1."""
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


def diagram_available() -> bool:
    """True when pydot and Graphviz' ``dot`` are installed, so plot_model can draw."""
    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def model_diagram(model: Any, to_file: str = "model.png", show_shapes: bool = True) -> Any:
    """モデルの図 (keras.utils.plot_model)。描けないときは summary() の表を返す。Introduced in B2-1.

    図には pydot と Graphviz が必要。ないときはセルを止めず、入れ方を表示して表の文字列を返す。"""
    if diagram_available():
        import keras
        from IPython.display import Image

        keras.utils.plot_model(model, to_file=to_file, show_shapes=show_shapes, dpi=72)
        return Image(filename=to_file)
    print(
        "モデルの図 (plot_model) を描くには pydot と Graphviz が必要です: pip install pydot と "
        "apt-get install graphviz (Colab には両方あります)。代わりに summary() の表を表示します。"
    )
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return _Text("\n".join(lines))


class _Text(str):
    """A string that a notebook shows as text, not as its quoted repr."""

    def __repr__(self) -> str:
        return str(self)

"""Figures used by the assignments. Every function takes data and returns a Figure.

Figures are closed in pyplot before they are returned: a notebook shows one exactly
once when the call is the last line of a cell (or with ``display(fig)``), and scripts
and tests leak no open figures. Labels are English so no Japanese font is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .metrics import _labels, per_class_metrics

__all__ = [
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_histories",
    "plot_misclassified",
    "plot_precision_recall",
    "plot_result",
    "random_plot",
]


def _figure(width: float, height: float) -> Any:
    import matplotlib.pyplot as plt  # loads the notebook backend and its formatters

    fig = plt.figure(figsize=(width, height))
    plt.close(fig)
    return fig


def _as_images(X: np.ndarray) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) for imshow, from images or flattened rows."""
    X = np.asarray(X)
    if X.ndim == 2:
        side = math.isqrt(X.shape[1])
        if side * side == X.shape[1]:
            return X.reshape(-1, side, side)
        side = math.isqrt(X.shape[1] // 3)
        if 3 * side * side == X.shape[1]:
            return X.reshape(-1, side, side, 3)
        raise ValueError(f"長さ {X.shape[1]} の行からは画像の形が分かりません。(枚数, 高さ, 幅, チャネル) の配列を渡してください。")
    if X.ndim == 4 and X.shape[-1] == 1:
        return X[..., 0]
    if X.ndim in (3, 4):
        return X
    raise ValueError(f"画像の配列 (枚数, 高さ, 幅, チャネル) を渡してください。形 {X.shape} の配列が渡されました。")


def _show(ax: Any, image: np.ndarray) -> None:
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=max(1.0, float(image.max())))
    else:
        ax.imshow(np.clip(image, 0.0, 1.0))
    ax.set_xticks([])
    ax.set_yticks([])


def _name(class_names: Sequence[str] | None, label: int) -> str:
    return class_names[label] if class_names is not None else str(label)


def random_plot(
    X: np.ndarray,
    y: Any,
    predict: Any = None,
    class_names: Sequence[str] | None = None,
    rows: int = 5,
    seed: int | None = None,
) -> Any:
    """クラスごとにランダムに選んだ例を並べた図 (1 列が 1 クラス、各列 ``rows`` 枚)。

    列の上はクラス名。``predict`` (予測ラベルか確率) を渡すと「正解 -> 予測」(true -> predicted)
    を表示する。Introduced in B1-1."""
    images = _as_images(X)
    y_true = _labels(y)
    y_pred = None if predict is None else _labels(predict)
    if y_pred is not None and len(y_pred) != len(y_true):
        raise ValueError(f"predict の長さ {len(y_pred)} が y の長さ {len(y_true)} と違います。同じ画像の予測を渡してください。")
    n_classes = len(class_names) if class_names is not None else int(y_true.max()) + 1
    rng = np.random.default_rng(seed)
    fig = _figure(1.3 * n_classes, 1.5 * rows)
    axes = fig.subplots(rows, n_classes, squeeze=False)
    for label in range(n_classes):
        idx = np.flatnonzero(y_true == label)
        picks = rng.choice(idx, size=min(rows, len(idx)), replace=False) if len(idx) else []
        for r in range(rows):
            ax = axes[r][label]
            ax.set_xticks([])
            ax.set_yticks([])
            if r >= len(picks):
                ax.axis("off")
                continue
            i = picks[r]
            _show(ax, images[i])
            if y_pred is None:
                ax.set_title(_name(class_names, label), fontsize=8)
            else:
                wrong = y_pred[i] != label
                ax.set_title(
                    f"{_name(class_names, label)} -> {_name(class_names, int(y_pred[i]))}",
                    fontsize=7,
                    color="red" if wrong else "black",
                )
    fig.tight_layout()
    return fig


def _history_dict(history: Any) -> dict[str, list[float]]:
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping):
        raise TypeError(
            "model.fit が返す History (またはその .history の辞書) を渡してください。"
            f"{type(history).__name__} が渡されました。"
        )
    data = dict(data)
    for old, new in (("acc", "accuracy"), ("val_acc", "val_accuracy")):
        if old in data and new not in data:
            data[new] = data[old]
    return data


def plot_result(history: Any) -> Any:
    """学習曲線 (learning curves): 正解率と損失をエポックごとに、訓練と検証を並べて描く。Introduced in B1-1."""
    data = _history_dict(history)
    fig = _figure(10, 3.5)
    axes = fig.subplots(1, 2)
    for ax, metric, title in zip(axes, ("accuracy", "loss"), ("Model accuracy", "Model loss")):
        for key, label in ((metric, "Train"), (f"val_{metric}", "Validation")):
            if key in data:
                values = data[key]
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(title)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(metric.capitalize())
        if ax.lines:
            ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot_histories(
    histories: Mapping[str, Any],
    metrics: str | Sequence[str] = ("loss", "val_loss", "val_accuracy"),
) -> Any:
    """複数の学習の記録 ``{ラベル: History}`` を指標 (metric) ごとに 1 枚へ重ねて描く。Introduced in B1-2."""
    metric_list = [metrics] if isinstance(metrics, str) else list(metrics)
    fig = _figure(5 * len(metric_list), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(metric_list)))
    for ax, metric in zip(axes, metric_list):
        for label, history in histories.items():
            values = _history_dict(history).get(metric)
            if values is not None:
                ax.plot(range(1, len(values) + 1), values, label=str(label))
        ax.set_title(metric)
        ax.set_xlabel("Epoch")
        if ax.lines:
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _tiles(n: int, cols: int, tile: tuple[float, float], extra_height: float = 0.0) -> tuple[Any, list[Any]]:
    """A figure with ``n`` tick-less tiles in rows of ``cols``; spare tiles are hidden."""
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig = _figure(max(3.0, tile[0] * cols), max(2.0, tile[1] * rows + extra_height))
    axes = list(np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel())
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes[:n]


def _normalise(a: np.ndarray) -> np.ndarray:
    span = float(a.max() - a.min())
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def plot_filters(kernel: Any, max_filters: int = 32, cols: int = 8) -> Any:
    """Conv2D 層 (またはそのカーネルの配列) のフィルタを小さな画像として並べる。Introduced in B2-1.

    形 (kh, kw, in, out) のカーネルを 1 フィルタ 1 枚で描く。入力が 3 チャネルならカラー、
    それ以外は最初の入力チャネルを白黒で描く。"""
    weights = kernel.get_weights()[0] if hasattr(kernel, "get_weights") else np.asarray(kernel)
    if weights.ndim != 4:
        raise ValueError(f"Conv2D kernel (カーネルの高さ, 幅, 入力チャネル, 出力チャネル) を渡してください。形 {weights.shape} が渡されました。")
    fig, axes = _tiles(min(weights.shape[3], max_filters), cols, (1.2, 1.3))
    for i, ax in enumerate(axes):
        tile = weights[:, :, :, i] if weights.shape[2] == 3 else weights[:, :, 0, i]
        ax.imshow(_normalise(tile), cmap=None if tile.ndim == 3 else "gray")
        ax.set_title(f"filter {i}", fontsize=7)
    fig.tight_layout()
    return fig


def plot_feature_maps(maps: np.ndarray, max_maps: int = 32, cols: int = 8, title: str | None = None) -> Any:
    """特徴マップ (feature map) (H, W, C) または (1, H, W, C) のチャネルを並べて描く。Introduced in B2-1."""
    maps = np.asarray(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"特徴マップ (高さ, 幅, チャネル) を渡してください。形 {maps.shape} が渡されました。")
    fig, axes = _tiles(min(maps.shape[2], max_maps), cols, (1.3, 1.4), 0.4 if title else 0.0)
    for i, ax in enumerate(axes):
        ax.imshow(maps[:, :, i], cmap="viridis")
        ax.set_title(f"ch {i}", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None, normalize: str | None = None
) -> Any:
    """混同行列 (confusion matrix、行: 正解、列: 予測) を scikit-learn で描く。Introduced in B2-3."""
    from sklearn.metrics import ConfusionMatrixDisplay

    t, p = _labels(y_true), _labels(y_pred)
    labels = list(range(len(class_names))) if class_names is not None else None
    fig = _figure(8, 7)
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(
        t,
        p,
        labels=labels,
        display_labels=class_names,
        normalize=normalize,
        ax=ax,
        colorbar=False,
        xticks_rotation=45,
        values_format=".2f" if normalize else "d",
    )
    ax.set_title("Confusion matrix")
    fig.tight_layout()
    return fig


def plot_precision_recall(y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None) -> Any:
    """クラスごとの適合率 (precision) と再現率 (recall) を棒グラフで並べる。Introduced in B1-1."""
    metrics = per_class_metrics(y_true, y_pred, class_names)
    names = metrics["class_names"]
    x = np.arange(len(names))
    fig = _figure(max(6, 0.8 * len(names)), 3.8)
    ax = fig.subplots()
    ax.bar(x - 0.2, metrics["precision"], width=0.4, label="precision")
    ax.bar(x + 0.2, metrics["recall"], width=0.4, label="recall")
    ax.set_xticks(x, names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_title("Precision and recall per class")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_misclassified(
    X: np.ndarray,
    y_true: Any,
    y_pred: Any,
    class_names: Sequence[str] | None = None,
    n: int = 32,
    true_class: int | None = None,
    cols: int = 8,
) -> Any:
    """誤分類された最初の ``n`` 枚を「正解 -> 予測」(true -> predicted) の題で並べる。Introduced in B1-1.

    ``true_class`` を渡すと、正解がそのクラスの画像だけを選ぶ (元の記事は 8 を見ている)。"""
    images = _as_images(X)
    t, p = _labels(y_true), _labels(y_pred)
    wrong = np.flatnonzero((t != p) & ((t == true_class) if true_class is not None else True))
    picks = wrong[:n]
    if len(picks) == 0:
        fig = _figure(4, 1.5)
        fig.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
        return fig
    fig, axes = _tiles(len(picks), cols, (1.4, 1.6))
    for ax, i in zip(axes, picks):
        _show(ax, images[i])
        ax.set_title(f"{_name(class_names, t[i])} -> {_name(class_names, p[i])}", fontsize=7)
    fig.suptitle(f"{len(wrong)} misclassified, first {len(picks)} shown", fontsize=9)
    fig.tight_layout()
    return fig

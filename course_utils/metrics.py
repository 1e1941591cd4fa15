"""Per-class metrics of a classifier's predictions (scikit-learn). Introduced in B1-1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["per_class_metrics"]


def _labels(y: Any) -> np.ndarray:
    """Integer class indices from indices, one-hot rows or predicted probabilities."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    return y.reshape(-1).astype(np.int64)


def per_class_metrics(
    y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """クラスごとの適合率 (precision)・再現率 (recall)・F1・枚数 (support) を scikit-learn で求める。
    Introduced in B1-1.

    precision, recall, f1, support の配列と class_names を持つ辞書を返す。一度も予測されなかった
    クラスの適合率は 0 (警告は出さない)。"""
    from sklearn.metrics import precision_recall_fscore_support

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

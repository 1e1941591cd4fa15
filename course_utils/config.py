"""Environment switches shared by the loaders, the notebooks and the autograder.

Every switch is an environment variable so that nbgrader, the autograder and CI can
set it without touching a notebook. Values are read at call time, never cached.
"""

from __future__ import annotations

import os

__all__ = [
    "ENV_DATA_DIR",
    "ENV_GRADING",
    "ENV_GRADING_EPOCHS",
    "ENV_GRADING_TEST_SIZE",
    "ENV_GRADING_TRAIN_SIZE",
    "ENV_SYNTHETIC",
    "grading_epochs",
    "grading_mode",
    "grading_sizes",
    "synthetic_policy",
    "training_epochs",
]

ENV_DATA_DIR = "COURSE_DATA_DIR"
ENV_SYNTHETIC = "COURSE_SYNTHETIC_DATA"
ENV_GRADING = "COURSE_GRADING_MODE"
ENV_GRADING_TRAIN_SIZE = "COURSE_GRADING_TRAIN_SIZE"
ENV_GRADING_TEST_SIZE = "COURSE_GRADING_TEST_SIZE"
ENV_GRADING_EPOCHS = "COURSE_GRADING_EPOCHS"

DEFAULT_GRADING_TRAIN_SIZE = 256
DEFAULT_GRADING_TEST_SIZE = 128
DEFAULT_GRADING_EPOCHS = 1

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str) -> bool | None:
    """Read a boolean environment variable; None when it is unset."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{name}={raw!r} is not a boolean: use 1/true/yes/on or 0/false/no/off."
    )


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number.") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r} must be at least 1.")
    return value


def grading_mode() -> bool:
    """採点のために実行されている (データを減らし、エポックを短くする) とき True。

    nbgrader が実行している (``NBGRADER_EXECUTION`` がある) か ``COURSE_GRADING_MODE`` が真のとき。
    ``COURSE_GRADING_MODE=0`` なら、nbgrader の中でも False になる。Introduced in B1-1."""
    explicit = _flag(ENV_GRADING)
    if explicit is not None:
        return explicit
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def grading_sizes() -> tuple[int, int]:
    """(train, test) sample counts the loaders keep in grading mode."""
    return (
        _positive_int(ENV_GRADING_TRAIN_SIZE, DEFAULT_GRADING_TRAIN_SIZE),
        _positive_int(ENV_GRADING_TEST_SIZE, DEFAULT_GRADING_TEST_SIZE),
    )


def grading_epochs() -> int:
    """Largest number of epochs a training cell runs in grading mode."""
    return _positive_int(ENV_GRADING_EPOCHS, DEFAULT_GRADING_EPOCHS)


def training_epochs(epochs: int) -> int:
    """学習するエポック数: ふだんは ``epochs``、採点のときは ``grading_epochs()`` 以下。

    ノートブックは ``epochs = training_epochs(20)`` と書く。採点では短く、自分で実行するときは
    全部のエポックを学習する。Introduced in B1-1."""
    if epochs < 1:
        raise ValueError(f"エポック数 epochs は 1 以上にしてください ({epochs} が渡されました)。")
    return min(epochs, grading_epochs()) if grading_mode() else epochs


SYNTHETIC_POLICIES = ("never", "always", "missing")


def synthetic_policy() -> str:
    """When loaders may hand out synthetic data, as ``COURSE_SYNTHETIC_DATA`` says.

    ``never`` (unset or 0): real data or a clear error. ``always`` (1/true): synthetic
    data even where the real set is present. ``missing``: real data where a copy is
    found, synthetic data (announced on stdout) only for a dataset with no copy; the
    autograder and CI use this so that grading works on machines without MNIST or
    CIFAR-10.
    """
    raw = os.environ.get(ENV_SYNTHETIC)
    if raw is None:
        return "never"
    value = raw.strip().lower()
    if value == "missing":
        return "missing"
    try:
        flag = _flag(ENV_SYNTHETIC)
    except ValueError:
        raise ValueError(
            f"{ENV_SYNTHETIC}={raw!r} is not understood: use 1 (always synthetic), "
            "missing (synthetic only where the real dataset is absent) or 0 (never)."
        ) from None
    return "always" if flag else "never"

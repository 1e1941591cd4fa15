"""Loaders for MNIST, Fashion-MNIST and CIFAR-10 that work online and offline.

Every loader returns ``((X_train, y_train), (X_test, y_test))`` with

* images as float32 in [0, 1] **with a channel axis**: ``(N, 28, 28, 1)`` for MNIST
  and Fashion-MNIST, ``(N, 32, 32, 3)`` for CIFAR-10, so a CNN (B2) takes them as they
  are and an MLP (B1) flattens them with ``layers.Flatten()`` or ``X.reshape(len(X), -1)``;
* labels as 1-D int64 arrays of class indices (0-9).

``data_size`` keeps the **first** N training samples, as the course notebooks always did;
it does not rebalance the classes (the first N of each real set are close to balanced).

Where the data comes from, first match wins:

1. Keras' own cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``), i.e. what
   ``keras.datasets.*.load_data()`` left there;
2. ``$COURSE_DATA_DIR`` holding the standard archives (``mnist.npz``, the four
   Fashion-MNIST ``*-ubyte.gz`` files, ``cifar-10-python.tar.gz`` or its extracted
   ``cifar-10-batches-py/``);
3. Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``);
4. a download through ``keras.datasets`` (needs the dataset host to be reachable).

Synthetic data is handed out only when asked for (``synthetic=True`` or
``COURSE_SYNTHETIC_DATA``, see :func:`course_utils.config.synthetic_policy`) and says so
on stdout. Offline with none of the above, :class:`DatasetUnavailableError` says what to do.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config

__all__ = [
    "CIFAR10_CLASSES",
    "DEBIAN_FASHION_MNIST_DIR",
    "DatasetLocation",
    "DatasetUnavailableError",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "class_names",
    "find_dataset",
    "get_data_cifar",
    "get_data_fashion_mnist",
    "get_data_mnist",
    "load_dataset",
]

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

MNIST_CLASSES: list[str] = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES: list[str] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CIFAR10_CLASSES: list[str] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
_CIFAR_DIR = "cifar-10-batches-py"


class DatasetUnavailableError(RuntimeError):
    """No copy of a dataset was found and it could not be downloaded."""


@dataclass(frozen=True)
class DatasetLocation:
    """Where a real dataset was found: ``kind`` is keras-cache, data-dir or debian."""

    kind: str
    path: Path


def _spec(name: str) -> _Spec:
    try:
        return _SPECS[name]
    except KeyError:
        raise ValueError(
            f"データセット {name!r} はありません (unknown dataset)。"
            f"{', '.join(sorted(_SPECS))} のどれかを指定してください。"
        ) from None


def class_names(dataset: str) -> list[str]:
    """データセット ``dataset`` (mnist, fashion_mnist, cifar10) のクラス名のリスト (添字 = ラベル)。"""
    return list(_spec(dataset).classes)


# --------------------------------------------------------------------------- finding


def _keras_dataset_dirs() -> list[Path]:
    """Folders where keras.utils.get_file caches datasets (it falls back to /tmp)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [Path(home) / "datasets", Path("/tmp/.keras/datasets")]


def _candidates(spec: _Spec, folder: Path, *, keras_layout: bool) -> list[Path]:
    names = spec.keras_paths if keras_layout else spec.local_paths
    return [folder / n if n != "." else folder for n in names]


def _usable_file(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _usable_idx_dir(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in _IDX_FILES)


def _usable_cifar(path: Path) -> bool:
    if path.is_dir():
        return (path / "test_batch").is_file() and (path / "data_batch_5").is_file()
    return _usable_file(path)


def find_dataset(name: str) -> DatasetLocation | None:
    """The first local copy of a real dataset, in the documented order, or None."""
    spec = _spec(name)
    searched: list[tuple[str, Path, bool]] = [
        ("keras-cache", d, True) for d in _keras_dataset_dirs()
    ]
    data_dir = os.environ.get(config.ENV_DATA_DIR)
    if data_dir:
        searched.append(("data-dir", Path(data_dir).expanduser(), False))
    if spec.debian_package:
        searched.append(("debian", DEBIAN_FASHION_MNIST_DIR.parent, True))
    for kind, folder, keras_layout in searched:
        for path in _candidates(spec, folder, keras_layout=keras_layout):
            if spec.usable(path):
                return DatasetLocation(kind, path)
    return None


# --------------------------------------------------------------------------- reading


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def _read_mnist_npz(path: Path) -> Arrays:
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_fashion(folder: Path) -> Arrays:
    x_train = _read_idx(folder / _IDX_FILES[0], 16).reshape(-1, 28, 28)
    y_train = _read_idx(folder / _IDX_FILES[1], 8)
    x_test = _read_idx(folder / _IDX_FILES[2], 16).reshape(-1, 28, 28)
    y_test = _read_idx(folder / _IDX_FILES[3], 8)
    return (x_train, y_train), (x_test, y_test)


def _cifar_batch(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    batch = pickle.loads(raw, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return data.transpose(0, 2, 3, 1), np.asarray(batch[b"labels"], dtype=np.uint8)


def _read_cifar(path: Path) -> Arrays:
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    raw: dict[str, bytes] = {}
    if path.is_dir():
        for n in names:
            raw[n] = (path / n).read_bytes()
    else:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                base = os.path.basename(member.name)
                if base in names and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        raw[base] = handle.read()
        missing = [n for n in names if n not in raw]
        if missing:
            raise DatasetUnavailableError(
                f"{path} は CIFAR-10 のアーカイブとして不完全です "
                f"({', '.join(missing)} がありません)。ダウンロードし直してください。"
            )
    parts = [_cifar_batch(raw[n]) for n in names[:5]]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = _cifar_batch(raw["test_batch"])
    return (x_train, y_train), (x_test, y_test)


def _read(name: str, location: DatasetLocation) -> Arrays:
    spec = _spec(name)
    try:
        return spec.reader(location.path)
    except DatasetUnavailableError:
        raise
    except Exception as exc:  # a truncated or foreign file: say which one
        raise DatasetUnavailableError(
            f"{spec.title}: ファイル {location.path} ({location.kind}) を読めませんでした "
            f"(could not be read: {type(exc).__name__}: {exc})。"
            "このファイルを削除するか正しいものに置き換えてから、もう一度実行してください。"
        ) from exc


@dataclass(frozen=True)
class _Spec:
    """Everything that differs between the datasets: the loaders read it, never the name."""

    name: str
    title: str
    image_shape: tuple[int, int, int]
    train_count: int
    test_count: int
    classes: list[str]
    keras_module: str
    keras_paths: tuple[str, ...]  # candidates in a Keras cache folder ("." = the folder)
    local_paths: tuple[str, ...]  # candidates in $COURSE_DATA_DIR
    usable: Callable[[Path], bool]
    reader: Callable[[Path], Arrays]
    archive_hint: str  # what to put in $COURSE_DATA_DIR, for the error message
    debian_package: bool = False  # Debian's dataset-fashion-mnist (DEBIAN_FASHION_MNIST_DIR)


_SPECS: dict[str, _Spec] = {
    "mnist": _Spec(
        "mnist", "MNIST", (28, 28, 1), 60000, 10000, MNIST_CLASSES, "mnist",
        keras_paths=("mnist.npz",),
        local_paths=("mnist.npz",),
        usable=_usable_file,
        reader=_read_mnist_npz,
        archive_hint="mnist.npz",
    ),
    "fashion_mnist": _Spec(
        "fashion_mnist", "Fashion-MNIST", (28, 28, 1), 60000, 10000, FASHION_MNIST_CLASSES, "fashion_mnist",
        keras_paths=("fashion-mnist",),
        local_paths=("fashion-mnist", "."),
        usable=_usable_idx_dir,
        reader=_read_fashion,
        archive_hint="4 つのファイル " + ", ".join(_IDX_FILES),
        debian_package=True,
    ),
    "cifar10": _Spec(
        "cifar10", "CIFAR-10", (32, 32, 3), 50000, 10000, CIFAR10_CLASSES, "cifar10",
        # Keras 3 extracts into "<fname>-target/cifar-10-batches-py"
        keras_paths=(f"cifar-10-batches-py-target/{_CIFAR_DIR}", _CIFAR_DIR, _CIFAR_ARCHIVE, "cifar-10-batches-py.tar.gz"),
        local_paths=(_CIFAR_DIR, _CIFAR_ARCHIVE),
        usable=_usable_cifar,
        reader=_read_cifar,
        archive_hint=f"{_CIFAR_ARCHIVE} (または展開した {_CIFAR_DIR}/ フォルダ)",
    ),
}


def _download(name: str) -> Arrays:
    """Let keras.datasets download (and cache) the dataset; needs network access."""
    import importlib

    module = importlib.import_module(f"keras.datasets.{_spec(name).keras_module}")
    return module.load_data()


def _unavailable_message(spec: _Spec, reason: str) -> str:
    keras_dir = _keras_dataset_dirs()[0]
    lines = [
        f"{spec.title} がこのマシンになく、ダウンロードもできませんでした "
        f"(dataset not available: {reason})。",
        "次のどれかで解決できます:",
        f"  1. インターネットにつながる環境で一度実行し、Keras のキャッシュ {keras_dir} に保存させる"
        f" (例: keras.datasets.{spec.keras_module}.load_data())。またはそのキャッシュをここへコピーする。",
        f"  2. {spec.archive_hint} をあるフォルダに置き、環境変数 {config.ENV_DATA_DIR}=/そのフォルダ を設定する。",
    ]
    if spec.debian_package:
        lines.append("  3. Debian/Ubuntu なら: sudo apt-get install dataset-fashion-mnist")
    lines.append(
        f"  {len(lines) - 1}. 動作確認だけなら合成データ (synthetic data) を使う: "
        f"{config.ENV_SYNTHETIC}=1 (または =missing) を設定するか、synthetic=True を渡す。"
    )
    return "\n".join(lines)


def _load_real(spec: _Spec) -> tuple[Arrays | None, str]:
    """Real data from a local copy or a download, or (None, why not)."""
    location = find_dataset(spec.name)
    if location is not None:
        return _read(spec.name, location), ""
    try:
        return _download(spec.name), ""
    except Exception as exc:  # keras raises a bare Exception("URL fetch failure ...")
        return None, f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- synthetic


def _synthetic_prototypes(spec: _Spec) -> np.ndarray:
    """One smooth, clearly different template image per class."""
    h, w, c = spec.image_shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    protos = np.zeros((10, h, w, c), np.float32)
    for label in range(10):
        rng = np.random.default_rng(1000 + 17 * label + len(spec.name))
        for _ in range(3):
            cy, cx = rng.uniform(0.25, 0.75, 2) * (h, w)
            sigma = rng.uniform(0.08, 0.16) * h
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
            color = rng.uniform(0.4, 1.0, c).astype(np.float32)
            protos[label] += blob[..., None] * color
        protos[label] /= protos[label].max()
    return protos


def _synthetic_split(spec: _Spec, total: int, keep: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``keep`` of ``total`` synthetic samples; any prefix is stable."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, total)[:keep]
    shifts = rng.integers(-2, 3, (total, 2))[:keep]
    gains = rng.uniform(0.6, 1.0, total).astype(np.float32)[:keep]
    noise = rng.standard_normal((keep, *spec.image_shape), dtype=np.float32)
    protos = _synthetic_prototypes(spec)
    # every class template at every shift, then one gather: (10, 5, 5, H, W, C)
    moved = np.stack(
        [np.stack([np.roll(protos, (dy, dx), axis=(1, 2)) for dx in range(-2, 3)], 1) for dy in range(-2, 3)], 1
    )
    noise *= 0.15
    noise += moved[labels, shifts[:, 0] + 2, shifts[:, 1] + 2] * gains[:, None, None, None]
    np.clip(noise, 0.0, 1.0, out=noise)
    return noise, labels.astype(np.int64)


def _synthetic(spec: _Spec, n_train: int, n_test: int) -> Arrays:
    base = sum(map(ord, spec.name))
    train = _synthetic_split(spec, spec.train_count, n_train, seed=base)
    test = _synthetic_split(spec, spec.test_count, n_test, seed=base + 1)
    return train, test


# --------------------------------------------------------------------------- public


def _sizes(spec: _Spec, data_size: int | None) -> tuple[int, int]:
    if data_size is not None:
        if isinstance(data_size, bool) or not isinstance(data_size, (int, np.integer)):
            raise TypeError(f"data_size は整数か None にしてください ({data_size!r} が渡されました)。")
        if data_size < 1:
            raise ValueError(f"data_size は 1 以上にしてください ({data_size} が渡されました)。")
    n_train = spec.train_count if data_size is None else min(int(data_size), spec.train_count)
    n_test = spec.test_count
    if config.grading_mode():
        g_train, g_test = config.grading_sizes()
        n_train, n_test = min(n_train, g_train), min(n_test, g_test)
    return n_train, n_test


def _prepare(spec: _Spec, arrays: Arrays, n_train: int, n_test: int) -> Arrays:
    (x_train, y_train), (x_test, y_test) = arrays

    def images(x: np.ndarray, n: int) -> np.ndarray:
        x = np.asarray(x[:n]).reshape(-1, *spec.image_shape)
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255.0)
        return x.astype(np.float32, copy=False)

    def labels(y: np.ndarray, n: int) -> np.ndarray:
        return np.asarray(y[:n]).reshape(-1).astype(np.int64)

    return (images(x_train, n_train), labels(y_train, n_train)), (
        images(x_test, n_test),
        labels(y_test, n_test),
    )


def load_dataset(name: str, data_size: int | None = None, synthetic: bool | None = None) -> Arrays:
    """データセット ``name`` (mnist, fashion_mnist, cifar10) を読み込む (詳しくはこのモジュールの説明)。

    ``data_size``: 訓練データを先頭から何枚使うか。``synthetic``: True なら合成データ (synthetic
    data)、False なら本物だけ、None なら ``COURSE_SYNTHETIC_DATA`` に従う。Introduced in B1-1."""
    spec = _spec(name)
    n_train, n_test = _sizes(spec, data_size)
    policy = config.synthetic_policy()
    if synthetic is not None:
        policy = "always" if synthetic else "never"

    arrays: Arrays | None = None
    if synthetic is not None:
        why = f"synthetic={synthetic}"
    else:
        why = f"{config.ENV_SYNTHETIC}={os.environ.get(config.ENV_SYNTHETIC)}"
    if policy != "always":
        arrays, reason = _load_real(spec)
        if arrays is None:
            if policy == "never":
                raise DatasetUnavailableError(_unavailable_message(spec, reason))
            why += ", no real copy found"
    if arrays is None:
        print(
            f"[course_utils] {spec.title}: SYNTHETIC data ({why}): {n_train} train / "
            f"{n_test} test images of class-dependent blobs, not the real dataset."
        )
        result = _synthetic(spec, n_train, n_test)
    else:
        result = _prepare(spec, arrays, n_train, n_test)
    if config.grading_mode():
        print(
            f"[course_utils] grading mode: {spec.title} cut to {len(result[0][0])} train / "
            f"{len(result[1][0])} test samples."
        )
    return result


def get_data_mnist(data_size: int | None = None, synthetic: bool | None = None) -> Arrays:
    """MNIST: 画像 (N, 28, 28, 1) は 0〜1 の float32、ラベルは 0〜9 の整数。Introduced in B1-1."""
    return load_dataset("mnist", data_size, synthetic)


def get_data_fashion_mnist(
    data_size: int | None = None, synthetic: bool | None = None
) -> Arrays:
    """Fashion-MNIST: 画像 (N, 28, 28, 1) は 0〜1 の float32、ラベルは 0〜9 の整数。Introduced in B2-3."""
    return load_dataset("fashion_mnist", data_size, synthetic)


def get_data_cifar(data_size: int | None = None, synthetic: bool | None = None) -> Arrays:
    """CIFAR-10: 画像 (N, 32, 32, 3) は 0〜1 の float32、ラベルは 0〜9 の整数。Introduced in B2-2."""
    return load_dataset("cifar10", data_size, synthetic)


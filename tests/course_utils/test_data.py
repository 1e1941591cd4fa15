"""course_utils.data: where data comes from, what it looks like, and what fails how."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

import course_utils
from course_utils import data

# ---------------------------------------------------------------- helpers that write archives


def write_mnist_npz(path, n_train=120, n_test=40, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def write_idx_files(folder, n_train=30, n_test=20, fill=7):
    folder.mkdir(parents=True, exist_ok=True)

    def put(name, header, payload):
        with gzip.open(folder / name, "wb") as f:
            f.write(header + payload.tobytes())

    put("train-images-idx3-ubyte.gz", b"\0" * 16, np.full((n_train, 28, 28), fill, np.uint8))
    put("train-labels-idx1-ubyte.gz", b"\0" * 8, (np.arange(n_train) % 10).astype(np.uint8))
    put("t10k-images-idx3-ubyte.gz", b"\0" * 16, np.full((n_test, 28, 28), fill, np.uint8))
    put("t10k-labels-idx1-ubyte.gz", b"\0" * 8, (np.arange(n_test) % 10).astype(np.uint8))


def cifar_batch(n, offset):
    # channel-first rows as in the real archive: R plane, then G, then B
    rows = np.zeros((n, 3, 32, 32), np.uint8)
    rows[:, 0] = 10
    rows[:, 1] = 20
    rows[:, 2] = 30
    rows[:, 0, 0, 1] = np.arange(n) + offset  # marks each sample
    labels = [(i + offset) % 10 for i in range(n)]
    return pickle.dumps({b"data": rows.reshape(n, 3072), b"labels": labels})


def write_cifar(target, n=10, as_archive=True):
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    blobs = {name: cifar_batch(n, 10 * k) for k, name in enumerate(names)}
    if not as_archive:
        target.mkdir(parents=True, exist_ok=True)
        for name, blob in blobs.items():
            (target / name).write_bytes(blob)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for name, blob in blobs.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def assert_well_formed(split, shape):
    (x_train, y_train), (x_test, y_test) = split
    for x, y in ((x_train, y_train), (x_test, y_test)):
        assert x.dtype == np.float32
        assert x.shape[1:] == shape
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert y.ndim == 1 and y.dtype == np.int64 and len(y) == len(x)
        assert y.min() >= 0 and y.max() <= 9


# ---------------------------------------------------------------- real Fashion-MNIST (Debian)


def test_debian_fashion_mnist_gives_the_real_60000_and_10000_images(empty_keras_home):
    assert data.find_dataset("fashion_mnist") == data.DatasetLocation("debian", data.DEBIAN_FASHION_MNIST_DIR)
    split = course_utils.get_data_fashion_mnist()
    assert_well_formed(split, (28, 28, 1))
    (x_train, y_train), (x_test, y_test) = split
    assert len(x_train) == 60000 and len(x_test) == 10000
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.max() == 1.0 and x_train.min() == 0.0


def test_data_size_keeps_the_first_training_samples(empty_keras_home):
    (full_x, full_y), _ = course_utils.get_data_fashion_mnist()
    (x, y), (x_test, _) = course_utils.get_data_fashion_mnist(data_size=500)
    assert len(x) == 500 and len(x_test) == 10000
    np.testing.assert_array_equal(x, full_x[:500])
    np.testing.assert_array_equal(y, full_y[:500])


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-5, ValueError), (2.5, TypeError), ("100", TypeError)])
def test_data_size_rejects_nonsense(bad, error):
    with pytest.raises(error, match="data_size"):
        course_utils.get_data_fashion_mnist(data_size=bad)


# ---------------------------------------------------------------- where data comes from


def test_mnist_from_keras_cache(empty_keras_home, offline):
    arrays = write_mnist_npz(empty_keras_home / "datasets" / "mnist.npz")
    assert data.find_dataset("mnist").kind == "keras-cache"
    (x, y), (xt, yt) = course_utils.get_data_mnist()
    assert x.shape == (120, 28, 28, 1) and xt.shape == (40, 28, 28, 1)
    np.testing.assert_allclose(x[3, :, :, 0], arrays["x_train"][3] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, arrays["y_train"])


def test_keras_cache_wins_over_data_dir(empty_keras_home, tmp_path, monkeypatch, offline):
    write_mnist_npz(empty_keras_home / "datasets" / "mnist.npz", n_train=50)
    write_mnist_npz(tmp_path / "dir" / "mnist.npz", n_train=70)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "dir"))
    (x, _), _ = course_utils.get_data_mnist()
    assert len(x) == 50


def test_mnist_from_course_data_dir(empty_keras_home, tmp_path, monkeypatch, offline):
    write_mnist_npz(tmp_path / "dir" / "mnist.npz", n_train=70)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "dir"))
    assert data.find_dataset("mnist").kind == "data-dir"
    (x, _), _ = course_utils.get_data_mnist()
    assert len(x) == 70


def test_data_dir_fashion_files_win_over_debian(empty_keras_home, tmp_path, monkeypatch):
    write_idx_files(tmp_path / "dir")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "dir"))
    (x, y), (xt, _) = course_utils.get_data_fashion_mnist()
    assert x.shape == (30, 28, 28, 1) and xt.shape == (20, 28, 28, 1)
    assert np.allclose(x, 7 / 255.0)
    assert y.tolist()[:11] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]


def test_cifar_from_archive_in_data_dir(empty_keras_home, tmp_path, monkeypatch, offline):
    write_cifar(tmp_path / "dir" / "cifar-10-python.tar.gz")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "dir"))
    split = course_utils.get_data_cifar()
    assert_well_formed(split, (32, 32, 3))
    (x, y), (xt, yt) = split
    assert len(x) == 50 and len(xt) == 10
    # channel-first rows became channels-last pixels: (R, G, B) = (10, 20, 30)
    np.testing.assert_allclose(x[0, 5, 5], np.array([10, 20, 30]) / 255.0, rtol=1e-6)
    # batches are concatenated in order: sample 12 is the 3rd of data_batch_2
    assert round(float(x[12, 0, 1, 0]) * 255) == 12
    assert y[12] == 2


def test_cifar_from_keras3_extracted_cache(empty_keras_home, offline):
    write_cifar(empty_keras_home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py", as_archive=False)
    assert data.find_dataset("cifar10").kind == "keras-cache"
    (x, _), (xt, _) = course_utils.get_data_cifar(data_size=7)
    assert x.shape == (7, 32, 32, 3) and xt.shape == (10, 32, 32, 3)


def test_truncated_file_is_named_in_the_error(empty_keras_home, tmp_path, monkeypatch, offline):
    bad = tmp_path / "dir" / "mnist.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"not a zip file")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "dir"))
    with pytest.raises(data.DatasetUnavailableError, match="could not be read") as info:
        course_utils.get_data_mnist()
    assert str(bad) in str(info.value)


def test_offline_without_any_copy_explains_every_fix(empty_keras_home, offline):
    with pytest.raises(data.DatasetUnavailableError) as info:
        course_utils.get_data_cifar()
    message = str(info.value)
    assert message.startswith("CIFAR-10 がこのマシンになく")
    assert "URL fetch failure" in message  # the cause, in one line
    assert str(empty_keras_home / "datasets") in message
    assert "COURSE_DATA_DIR" in message and "cifar-10-python.tar.gz" in message
    assert "COURSE_SYNTHETIC_DATA=1" in message and "synthetic=True" in message


def test_offline_fashion_error_mentions_the_debian_package(empty_keras_home, offline, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", empty_keras_home / "nowhere" / "fashion-mnist")
    with pytest.raises(data.DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        course_utils.get_data_fashion_mnist()


def test_download_is_used_when_no_copy_exists(empty_keras_home, monkeypatch):
    calls = []

    def fake_download(name):
        calls.append(name)
        x = np.zeros((3, 28, 28), np.uint8)
        return (x, np.array([1, 2, 3], np.uint8)), (x, np.array([4, 5, 6], np.uint8))

    monkeypatch.setattr(data, "_download", fake_download)
    (x, y), _ = course_utils.get_data_mnist()
    assert calls == ["mnist"] and y.tolist() == [1, 2, 3] and x.shape == (3, 28, 28, 1)


# ---------------------------------------------------------------- grading mode


def test_grading_mode_cuts_to_a_small_subset(monkeypatch, empty_keras_home, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    (x, y), (xt, yt) = course_utils.get_data_fashion_mnist()
    assert len(x) == 256 and len(xt) == 128
    assert "grading mode" in capsys.readouterr().out
    (x, _), _ = course_utils.get_data_fashion_mnist(data_size=100)
    assert len(x) == 100


def test_grading_subset_size_is_configurable(monkeypatch, empty_keras_home):
    monkeypatch.setenv("COURSE_GRADING_MODE", "1")
    monkeypatch.setenv("COURSE_GRADING_TRAIN_SIZE", "300")
    monkeypatch.setenv("COURSE_GRADING_TEST_SIZE", "64")
    (x, _), (xt, _) = course_utils.get_data_fashion_mnist()
    assert (len(x), len(xt)) == (300, 64)


def test_grading_mode_uses_synthetic_data_only_when_asked(monkeypatch, empty_keras_home, offline):
    monkeypatch.setenv("COURSE_GRADING_MODE", "1")
    with pytest.raises(data.DatasetUnavailableError):
        course_utils.get_data_mnist()
    monkeypatch.setenv("COURSE_SYNTHETIC_DATA", "missing")
    (x, _), (xt, _) = course_utils.get_data_mnist()
    assert (len(x), len(xt)) == (256, 128)


# ---------------------------------------------------------------- synthetic data


@pytest.mark.parametrize(
    "loader, shape",
    [
        (course_utils.get_data_mnist, (28, 28, 1)),
        (course_utils.get_data_fashion_mnist, (28, 28, 1)),
        (course_utils.get_data_cifar, (32, 32, 3)),
    ],
)
def test_synthetic_data_has_the_real_shapes_and_says_so(loader, shape, capsys):
    split = loader(data_size=300, synthetic=True)
    assert_well_formed(split, shape)
    assert len(split[0][0]) == 300 and len(split[1][0]) == 10000
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "SYNTHETIC" in out[0] and "not the real dataset" in out[0]


def test_synthetic_data_is_deterministic_and_prefix_stable():
    (a, ya), (ta, tya) = course_utils.get_data_mnist(data_size=200, synthetic=True)
    (b, yb), (tb, tyb) = course_utils.get_data_mnist(data_size=200, synthetic=True)
    (c, yc), _ = course_utils.get_data_mnist(data_size=50, synthetic=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ta, tb)
    np.testing.assert_array_equal(a[:50], c)
    np.testing.assert_array_equal(ya[:50], yc)


def test_synthetic_env_always_replaces_real_data(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SYNTHETIC_DATA", "1")
    (x, _), _ = course_utils.get_data_fashion_mnist(data_size=20)
    assert "SYNTHETIC" in capsys.readouterr().out
    (real, _), _ = course_utils.get_data_fashion_mnist(data_size=20, synthetic=False)
    assert not np.array_equal(x, real)


def test_missing_policy_keeps_real_data_where_present(monkeypatch, empty_keras_home, offline, capsys):
    monkeypatch.setenv("COURSE_SYNTHETIC_DATA", "missing")
    course_utils.get_data_fashion_mnist(data_size=10)
    assert "SYNTHETIC" not in capsys.readouterr().out
    course_utils.get_data_mnist(data_size=10)
    assert "no real copy found" in capsys.readouterr().out


def test_a_tiny_model_beats_chance_on_synthetic_data():
    from sklearn.linear_model import LogisticRegression

    (x, y), (xt, yt) = course_utils.get_data_cifar(data_size=600, synthetic=True)
    clf = LogisticRegression(max_iter=300).fit(x.reshape(len(x), -1), y)
    accuracy = clf.score(xt[:1000].reshape(1000, -1), yt[:1000])
    assert accuracy > 0.5, f"accuracy {accuracy:.2f} is too close to chance (0.10)"
    assert set(np.unique(y)) == set(range(10))


def test_class_name_constants():
    assert course_utils.CIFAR10_CLASSES[3] == "cat"
    assert course_utils.FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert course_utils.MNIST_CLASSES == [str(i) for i in range(10)]
    assert course_utils.class_names("cifar10") == course_utils.CIFAR10_CLASSES
    with pytest.raises(ValueError, match="cifar10, fashion_mnist, mnist"):
        course_utils.class_names("imagenet")

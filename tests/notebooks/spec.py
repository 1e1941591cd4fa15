"""What each assignment's notebook promises, as data: tests/notebooks/test_contract.py
checks every promise of every spec, so adding an assignment means adding a spec.

Per assignment: the autograded tests and their points, the written answers, the points
each "## 課題" heading states, the stubs the release keeps, a submission of plausible wrong
answers with the tests it must lose (each in its hidden part), a submission of other
correct answers that must get full points and no review flag, and the values the hidden
tests expect that must not be printed in the release before their answer cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NotebookSpec:
    assignment: str
    auto: dict[str, float]  # autograded test cell -> points
    manual: dict[str, float]  # written answer cell -> points
    headings: dict[str, float]  # "B2-2-1" -> points its heading states
    stubs: dict[str, str]  # answer cell -> how its stub in the release starts
    wrong: dict[str, str]  # answer cell -> a plausible wrong answer
    wrong_zero: frozenset[str]  # the tests the wrong submission scores 0 on (all others: full)
    alternative: dict[str, str]  # answer cell -> another correct answer
    given_away: dict[str, tuple[str, ...]] = field(default_factory=dict)  # answer cell -> expected values
    forbidden: tuple[str, ...] = ()  # text that must not appear anywhere in the release
    hidden_in: tuple[str, ...] = ()  # tests that must have a hidden block
    skip_lines_shown_visibly: bool = False
    min_hidden_lines: int = 1

    @property
    def total(self) -> float:
        return sum(self.auto.values()) + sum(self.manual.values())

    def __str__(self) -> str:
        return self.assignment


# --------------------------------------------------------------------------- B2-2

B2_2 = NotebookSpec(
    assignment="B2-2",
    auto={
        "test_conv3_3x3_architecture": 1,
        "test_conv1_5x5_architecture": 1,
        "test_cnn_params_course_models": 1,
        "test_cnn_params_random_stacks": 1,
        "test_weights_per_channel_pair": 1,
        "test_rf_two_3x3": 1,
        "test_rf_three_3x3": 1,
        "test_receptive_field_stride_one": 1,
        "test_receptive_field_with_strides": 2,
    },
    manual={"discussion_depth": 3},
    headings={"B2-2-1": 8, "B2-2-2": 5},
    stubs={
        "build_conv3_3x3": "def build_conv3_3x3() -> keras.Model:",
        "build_conv1_5x5": "def build_conv1_5x5() -> keras.Model:",
        "cnn_params": "def cnn_params(input_shape: tuple[int, int, int], stack: list[tuple]) -> int:",
        "receptive_field": "def receptive_field(stack: list[tuple[int, int]]) -> int:",
    },
    wrong={
        # "valid" padding: 32 -> 30 -> 28 -> 26, so the kinds of layers still look right.
        "build_conv3_3x3": '''
def build_conv3_3x3() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
''',
        # The 5x5 model built with the 3x3 kernel copied from model_conv1.
        "build_conv1_5x5": '''
def build_conv1_5x5() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
''',
        # Every convolution counted with the input's channels: right for one convolution
        # (the visible example), wrong once convolutions are stacked.
        "cnn_params": '''
def cnn_params(input_shape: tuple[int, int, int], stack: list[tuple]) -> int:
    h, w, c = input_shape
    channels, total, flat = c, 0, None
    for kind, *args in stack:
        if kind == "conv":
            total += args[1] * args[1] * c * args[0] + args[0]
            channels = args[0]
        elif kind == "pool":
            h, w = h // args[0], w // args[0]
        else:
            n_in = h * w * channels if flat is None else flat
            total += n_in * args[0] + args[0]
            flat = args[0]
    return total
''',
        # 3x3 counted once (9) however many layers are stacked.
        "weights_per_channel_pair": (
            'weights_per_channel_pair = {"two_3x3": 9, "one_5x5": 25, "three_3x3": 9, "one_7x7": 49}\n'
        ),
        # "A 3x3 kernel sees 3 pixels" and "three 3x3 layers see 3 x 3 = 9".
        "rf_stacked_3x3": "rf_two_3x3 = 3\nrf_three_3x3 = 9\n",
        # Strides ignored: right for every stride-1 stack, wrong once a stride follows a layer.
        "receptive_field": '''
def receptive_field(stack: list[tuple[int, int]]) -> int:
    return 1 + sum(k - 1 for k, _ in stack)
''',
    },
    wrong_zero=frozenset(
        {
            "test_conv3_3x3_architecture",
            "test_conv1_5x5_architecture",
            "test_cnn_params_course_models",
            "test_cnn_params_random_stacks",
            "test_weights_per_channel_pair",
            "test_rf_two_3x3",
            "test_rf_three_3x3",
            "test_receptive_field_with_strides",
        }
    ),
    alternative={
        # The functional API, kernel_size=3, MaxPool2D, an Activation layer of its own.
        "build_conv3_3x3": '''
def build_conv3_3x3() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(32, 3, padding="same")(inputs)
    x = layers.Activation("relu")(x)
    for _ in range(2):
        x = layers.Conv2D(filters=32, kernel_size=3, padding="same", activation="relu")(x)
    x = layers.MaxPool2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(20, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="my_vgg_like")
''',
        # Sequential built with add(), a tuple kernel, a strides=2 pooling written out.
        "build_conv1_5x5": '''
def build_conv1_5x5() -> keras.Model:
    model = keras.Sequential()
    model.add(keras.Input(shape=(32, 32, 3)))
    model.add(layers.Conv2D(32, (5, 5), strides=(1, 1), padding="same", activation=keras.activations.relu))
    model.add(layers.MaxPooling2D(pool_size=2, strides=2))
    model.add(layers.Flatten())
    model.add(layers.Dense(units=20, activation="relu"))
    model.add(layers.Dense(units=10, activation="softmax"))
    return model
''',
        # Own parameter names, a helper function of its own, NumPy integers.
        "cnn_params": '''
def _conv_count(k, c_in, c_out):
    return np.int64(k) * k * c_in * c_out + c_out


def cnn_params(input_shape, stack):
    size = np.array(input_shape[:2])
    depth = input_shape[2]
    flat = None
    count = 0
    for entry in stack:
        if entry[0] == "conv":
            count += _conv_count(entry[2], depth, entry[1])
            depth = entry[1]
        elif entry[0] == "pool":
            size = size // entry[1]
        else:
            fan_in = int(np.prod(size)) * depth if flat is None else flat
            count += fan_in * entry[1] + entry[1]
            flat = entry[1]
    return count
''',
        "weights_per_channel_pair": '''
kernel_weights = {"3x3": 3 ** 2, "5x5": 5 ** 2, "7x7": 7 ** 2}
weights_per_channel_pair = dict(
    two_3x3=np.int64(2 * kernel_weights["3x3"]),
    one_5x5=kernel_weights["5x5"],
    three_3x3=np.int32(3) * kernel_weights["3x3"],
    one_7x7=kernel_weights["7x7"],
)
''',
        "rf_stacked_3x3": "rf_two_3x3 = np.int64(3 + 3 - 1)\nrf_three_3x3 = int(rf_two_3x3) + 2\n",
        # Vectorised, its own parameter name, the parameter rebound.
        "receptive_field": '''
def receptive_field(conv_stack: list[tuple[int, int]]) -> int:
    conv_stack = np.array(list(conv_stack), dtype=np.int64).reshape(-1, 2)
    jumps = np.concatenate([[1], np.cumprod(conv_stack[:, 1])[:-1]])
    return 1 + int(np.sum((conv_stack[:, 0] - 1) * jumps))
''',
    },
    given_away={
        "cnn_params": ("183462", "166502"),
        "weights_per_channel_pair": ("18", "27"),
        "rf_stacked_3x3": ("5", "7"),
    },
    forbidden=("183462", "183,462"),
    hidden_in=(
        "test_conv3_3x3_architecture",
        "test_conv1_5x5_architecture",
        "test_cnn_params_course_models",
        "test_cnn_params_random_stacks",
        "test_weights_per_channel_pair",
        "test_rf_two_3x3",
        "test_rf_three_3x3",
        "test_receptive_field_stride_one",
        "test_receptive_field_with_strides",
    ),
)

# --------------------------------------------------------------------------- B1-2

B1_2 = NotebookSpec(
    assignment="B1-2",
    auto={
        "test_dropout_mlp_rates_p3": 1,
        "test_dropout_mlp_output_layer": 1,
        "test_dropout_mlp_layer_order_hidden": 2,
        "test_dropout_adds_no_parameters": 1,
        "test_best_rate_small_example": 1,
        "test_best_rate_hidden": 2,
    },
    manual={"discussion_answer": 3},
    headings={"B1-2-1": 4, "B1-2-2": 1, "B1-2-3": 3, "B1-2-4": 3},
    stubs={
        "build_dropout_mlp": "def build_dropout_mlp(rate: float) -> keras.Model:",
        "best_rate": "def best_rate(histories: dict[float, dict]) -> float:",
    },
    wrong={
        # the rate of the visible check hard-coded
        "build_dropout_mlp": '''
def build_dropout_mlp(rate: float) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
''',
        # one mask entry per hidden unit counted as a parameter
        "dropout_extra_params": "dropout_extra_params = 2 * 512\n",
        # the last epoch's val_loss instead of each run's lowest
        "best_rate": '''
def best_rate(histories: dict[float, dict]) -> float:
    return min(sorted(histories), key=lambda rate: histories[rate]["val_loss"][-1])
''',
    },
    wrong_zero=frozenset({"test_dropout_mlp_layer_order_hidden", "test_dropout_adds_no_parameters", "test_best_rate_hidden"}),
    alternative={
        # the functional API, Reshape instead of Flatten, no Dropout layer when the rate is 0
        "build_dropout_mlp": '''
def build_dropout_mlp(rate: float) -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Reshape((784,))(inputs)
    for _ in range(2):
        x = layers.Dense(512, activation=keras.activations.relu)(x)
        if rate > 0:
            x = layers.Dropout(rate=rate)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)
''',
        # counted from the weight shapes, a NumPy integer
        "dropout_extra_params": (
            "size_p3 = sum(np.prod(w.shape) for w in model_p3.weights)\n"
            "size_p0 = sum(np.prod(w.shape) for w in model_p0.weights)\n"
            "dropout_extra_params = np.int64(size_p3 - size_p0)\n"
        ),
        # a loop, its own parameter name
        "best_rate": '''
def best_rate(runs: dict[float, dict]) -> float:
    chosen, lowest = None, None
    for p in sorted(runs):
        loss = float(np.min(runs[p]["val_loss"]))
        if lowest is None or loss < lowest:
            chosen, lowest = p, loss
    return chosen
''',
    },
    forbidden=("解答例",),
    min_hidden_lines=21,
)

# --------------------------------------------------------------------------- B1-1

B1_1 = NotebookSpec(
    assignment="B1-1",
    auto={
        "test_softmax_rows_sum_to_one": 1,
        "test_softmax_hand_value": 1,
        "test_softmax_large_logits": 1,
        "test_softmax_random_batches": 1,
        "test_dense_params_hidden_layer": 1,
        "test_dense_params_random_sizes": 1,
        "test_mlp_params_random_networks": 1,
        "test_forward_output_shape": 1,
        "test_forward_matches_keras": 1,
        "test_forward_random_networks": 1,
        "test_precision_recall_small_example": 1,
        "test_precision_recall_random_labels": 1,
    },
    manual={"discussion_answer": 3},
    headings={"B1-1-1": 4, "B1-1-2": 3, "B1-1-3": 3, "B1-1-4": 2, "B1-1-5": 3},
    stubs={
        "softmax": "def softmax(z: np.ndarray) -> np.ndarray:",
        "dense_params": "def dense_params(n_in: int, n_out: int) -> int:",
        "mlp_params": "def mlp_params(sizes: list[int]) -> int:",
        "forward": "def forward(X: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:",
        "precision_recall": "def precision_recall(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:",
    },
    wrong={
        # straight from the formula: overflows on large logits
        "softmax": '''
def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
''',
        # one bias per input instead of per output (right whenever n_in == n_out)
        "dense_params": '''
def dense_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_in
''',
        # the first and the last layer only: right for two layers (the visible example)
        "mlp_params": '''
def mlp_params(sizes: list[int]) -> int:
    return (sizes[0] * sizes[1] + sizes[1]) + (sizes[-2] * sizes[-1] + sizes[-1])
''',
        # written for exactly three Dense layers
        "forward": '''
def forward(X: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    W1, b1, W2, b2, W3, b3 = weights
    h1 = np.maximum(X @ W1 + b1, 0.0)
    h2 = np.maximum(h1 @ W2 + b2, 0.0)
    return softmax(h2 @ W3 + b3)
''',
        # the classes taken from the labels that occur, not from n_classes
        "precision_recall": '''
def precision_recall(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    classes = np.unique(y_true)
    precision = np.array([np.sum((y_pred == c) & (y_true == c)) / max(np.sum(y_pred == c), 1) for c in classes])
    recall = np.array([np.sum((y_pred == c) & (y_true == c)) / max(np.sum(y_true == c), 1) for c in classes])
    return precision, recall
''',
    },
    wrong_zero=frozenset(
        {
            "test_softmax_large_logits",
            "test_dense_params_random_sizes",
            "test_mlp_params_random_networks",
            "test_forward_random_networks",
            "test_precision_recall_random_labels",
        }
    ),
    alternative={
        # its own parameter name, max over the last axis, np.sum
        "softmax": '''
def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=-1, keepdims=True)
''',
        "dense_params": '''
def dense_params(n_in: int, n_out: int) -> int:
    return (n_in + 1) * n_out  # each output unit: n_in weights and one bias
''',
        # a loop and NumPy integers, without dense_params
        "mlp_params": '''
def mlp_params(sizes: list[int]) -> int:
    total = np.int64(0)
    for i in range(1, len(sizes)):
        total += np.int64(sizes[i - 1]) * sizes[i] + sizes[i]
    return total
''',
        # weights and biases sliced apart, the parameter rebound
        "forward": '''
def forward(X: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    weights = list(weights)
    kernels, biases = weights[0::2], weights[1::2]
    out = X
    for depth, (W, b) in enumerate(zip(kernels, biases), start=1):
        out = out @ W + b
        if depth < len(kernels):
            out = np.where(out > 0, out, 0.0)
    return softmax(out)
''',
        # a loop over the classes, plain Python counts
        "precision_recall": '''
def precision_recall(labels, predictions, n_classes):
    labels, predictions = list(labels), list(predictions)
    precision, recall = [], []
    for c in range(n_classes):
        hit = sum(1 for t, p in zip(labels, predictions) if t == p == c)
        said = predictions.count(c)
        real = labels.count(c)
        precision.append(hit / said if said else 0.0)
        recall.append(hit / real if real else 0.0)
    return np.array(precision), np.array(recall)
''',
    },
    given_away={"dense_params": ("262656",), "mlp_params": ("669706",)},
    forbidden=("解答例 (採点の目安)",),
)

# --------------------------------------------------------------------------- B2-1

B2_1 = NotebookSpec(
    assignment="B2-1",
    auto={
        "test_conv_output_size_valid": 1,
        "test_conv_output_size_same": 1,
        "test_conv_output_size_rejects_unknown_padding": 1,
        "test_conv_params_one_bias_per_filter": 1,
        "test_conv_params_non_square_kernel": 1,
        "test_im2col_patches": 1,
        "test_conv2d_im2col_random_shapes": 1,
        "test_im2col_bytes_random": 1,
        "test_batch_ranges_cover_images_under_limit": 0.5,
        "test_conv2d_batched_values_and_limit": 0.5,
        "test_cnn_param_counts_conv_layers": 1,
        "test_cnn_param_counts_dense_layers": 1,
        "test_cnn_param_counts_mnist_cnn": 1,
        "test_conv3_architecture": 1,
        "test_conv3_params": 1,
    },
    manual={"discussion_variants": 2},
    headings={"B2-1-1": 3, "B2-1-2": 2, "B2-1-3": 4, "B2-1-4": 3, "B2-1-5": 2, "B2-1-6": 2},
    stubs={
        "conv_output_size": 'def conv_output_size(w: int, k: int, stride: int = 1, padding: str = "valid") -> int:',
        "conv_params": "def conv_params(k_h: int, k_w: int, c_in: int, c_out: int) -> int:",
        "im2col": 'def im2col(x: np.ndarray, k: int, stride: int = 1, padding: str = "valid") -> np.ndarray:',
        "conv2d_im2col": "def conv2d_im2col(",
        "im2col_bytes": "def im2col_bytes(",
        "batch_ranges": "def batch_ranges(n_images: int, image_bytes: int, max_bytes: int) -> list[tuple[int, int]]:",
        "conv2d_batched": "def conv2d_batched(",
        "cnn_param_counts": "def cnn_param_counts(",
        "build_conv3": "def build_conv3() -> keras.Model:",
    },
    wrong={
        # Two slips at once: "valid" ignores the stride, "same" rounds down (w // s).
        # Both agree with the truth at stride 1, which is all the visible checks use.
        "conv_output_size": """
def conv_output_size(w: int, k: int, stride: int = 1, padding: str = "valid") -> int:
    if padding == "valid":
        return w - k + 1
    if padding == "same":
        return w // stride
    raise ValueError(padding)
""",
        # The seed's H x H formula taken literally: the kernel is assumed square.
        "conv_params": """
def conv_params(k_h: int, k_w: int, c_in: int, c_out: int) -> int:
    return k_h * k_h * c_in * c_out + c_out
""",
        # columns in (c, p, q) order: the same as (p, q, c) for one channel
        "im2col": """
def im2col(x: np.ndarray, k: int, stride: int = 1, padding: str = "valid") -> np.ndarray:
    x = np.asarray(x)
    n, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // stride), -(-w // stride)
        ph, pw = max((oh - 1) * stride + k - h, 0), max((ow - 1) * stride + k - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    cols = np.empty((n, oh, ow, c, k, k), dtype=x.dtype)
    for p in range(k):
        for q in range(k):
            cols[:, :, :, :, p, q] = x[:, p : p + stride * oh : stride, q : q + stride * ow : stride, :]
    return cols.reshape(n * oh * ow, c * k * k)
""",
        # the bias forgotten: the visible example has none
        "conv2d_im2col": """
def conv2d_im2col(x, kernel, bias, stride=1, padding="valid"):
    n, h, w, _ = np.shape(x)
    k, _, c_in, c_out = kernel.shape
    oh = (h - k) // stride + 1 if padding == "valid" else -(-h // stride)
    ow = (w - k) // stride + 1 if padding == "valid" else -(-w // stride)
    return (im2col(x, k, stride, padding) @ kernel.reshape(k * k * c_in, c_out)).reshape(n, oh, ow, c_out)
""",
        # the channels forgotten: right for one channel (the visible example)
        "im2col_bytes": """
def im2col_bytes(n, h, w, c, k, stride=1, padding="valid", itemsize=4):
    out_h = (h - k) // stride + 1 if padding == "valid" else -(-h // stride)
    out_w = (w - k) // stride + 1 if padding == "valid" else -(-w // stride)
    return n * out_h * out_w * k * k * itemsize
""",
        # The number of batches from the total bytes, then batches of equal size: right
        # when the images divide evenly (the visible case), over the limit otherwise.
        "batch_ranges": """
def batch_ranges(n_images: int, image_bytes: int, max_bytes: int) -> list[tuple[int, int]]:
    if image_bytes > max_bytes:
        raise ValueError("one image does not fit")
    n_batches = -(-n_images * image_bytes // max_bytes)
    edges = [n_images * b // n_batches for b in range(n_batches + 1)]
    return list(zip(edges[:-1], edges[1:]))
""",
        # max_bytes ignored: one batch of everything
        "conv2d_batched": """
def conv2d_batched(x, kernel, bias, stride=1, padding="valid", max_bytes=256 * 2**20):
    return conv2d_im2col(x, kernel, bias, stride, padding)
""",
        # Flatten length from the first convolution's channels
        "cnn_param_counts": """
def cnn_param_counts(convs=((32, 3), (64, 3)), pool=2, dense=(128,)):
    side, channels, counts = 28, 1, []
    for filters, k in convs:
        counts.append(k * k * channels * filters + filters)
        side = side - k + 1
        channels = filters
    if pool:
        side //= pool
    n_in = side * side * (convs[0][0] if convs else 1)
    for units in (*dense, 10):
        counts.append(n_in * units + units)
        n_in = units
    return counts
""",
        # the third convolution with 32 filters, copied from the first
        "build_conv3": """
def build_conv3() -> keras.Model:
    return build_cnn(convs=((32, 3), (64, 3), (32, 3)), name="conv3")
""",
    },
    wrong_zero=frozenset(
        {
            "test_conv_output_size_valid",
            "test_conv_output_size_same",
            "test_conv_params_non_square_kernel",
            "test_im2col_patches",
            "test_conv2d_im2col_random_shapes",
            "test_im2col_bytes_random",
            "test_batch_ranges_cover_images_under_limit",
            "test_conv2d_batched_values_and_limit",
            "test_cnn_param_counts_dense_layers",
            "test_cnn_param_counts_mnist_cnn",
            "test_conv3_architecture",
            "test_conv3_params",
        }
    ),
    alternative={
        "conv_output_size": """
import math


def conv_output_size(w, k, stride=1, padding="valid"):
    if padding not in ("valid", "same"):
        raise ValueError("unknown padding " + repr(padding))
    if padding == "same":
        return math.ceil(w / stride)
    return math.floor((w - k) / stride) + 1
""",
        "conv_params": """
def conv_params(k_h, k_w, c_in, c_out):
    per_filter = np.prod([k_h, k_w, c_in]) + 1  # weights and the one bias of a filter
    return int(per_filter * c_out)
""",
        # NumPy's sliding windows instead of a loop over the kernel positions
        "im2col": """
def im2col(images, k, stride=1, padding="valid"):
    images = np.asarray(images)
    if padding == "same":
        h, w = images.shape[1:3]
        need_h = max((-(-h // stride) - 1) * stride + k - h, 0)
        need_w = max((-(-w // stride) - 1) * stride + k - w, 0)
        images = np.pad(images, [(0, 0), (need_h // 2, need_h - need_h // 2), (need_w // 2, need_w - need_w // 2), (0, 0)])
    windows = np.lib.stride_tricks.sliding_window_view(images, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    # windows: (n, out_h, out_w, c, k, k) -> rows of (p, q, c)
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * images.shape[3])
""",
        # einsum over the patches, its own names
        "conv2d_im2col": """
def conv2d_im2col(x, kernel, bias, stride=1, padding="valid"):
    k = kernel.shape[0]
    patches = im2col(x, k, stride, padding)
    n = np.shape(x)[0]
    out_h = conv_output_size(np.shape(x)[1], k, stride, padding)
    out_w = conv_output_size(np.shape(x)[2], k, stride, padding)
    flat = np.einsum("rj,jm->rm", patches, kernel.reshape(-1, kernel.shape[-1])) + bias
    return flat.reshape(n, out_h, out_w, -1)
""",
        "im2col_bytes": """
def im2col_bytes(n, h, w, c, k, stride=1, padding="valid", itemsize=4):
    rows = n * conv_output_size(h, k, stride, padding) * conv_output_size(w, k, stride, padding)
    return np.int64(rows) * (k * k * c) * itemsize
""",
        # NumPy's arange for the starts (NumPy integers in the pairs), its own names
        "batch_ranges": """
def batch_ranges(count, per_image, limit):
    fit = limit // per_image
    if fit == 0:
        raise ValueError(f"{per_image} bytes per image do not fit into {limit} bytes")
    return [(first, min(first + fit, count)) for first in np.arange(0, count, fit)]
""",
        # without batch_ranges: a while loop over the batch starts
        "conv2d_batched": """
def conv2d_batched(x, kernel, bias, stride=1, padding="valid", max_bytes=256 * 2**20):
    one = im2col_bytes(1, x.shape[1], x.shape[2], x.shape[3], kernel.shape[0], stride, padding, x.itemsize)
    if one > max_bytes:
        raise ValueError("a single image does not fit into max_bytes")
    step = int(max_bytes // one)
    outputs = []
    start = 0
    while start < len(x):
        outputs.append(conv2d_im2col(x[start : start + step], kernel, bias, stride, padding))
        start += step
    return np.vstack(outputs)
""",
        "cnn_param_counts": """
def cnn_param_counts(convs=((32, 3), (64, 3)), pool=2, dense=(128,)):
    shape = [28, 28, 1]
    counts = []
    for filters, side in convs:
        counts.append(np.int64(side * side * shape[2] + 1) * filters)
        shape = [shape[0] - side + 1, shape[1] - side + 1, filters]
    if pool is not None:
        shape = [shape[0] // pool, shape[1] // pool, shape[2]]
    widths = [int(np.prod(shape)), *dense, 10]
    counts += [(a + 1) * b for a, b in zip(widths[:-1], widths[1:])]
    return counts
""",
        # the functional API, layers written out
        "build_conv3": """
def build_conv3() -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for filters in (32, 64, 64):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
    x = layers.MaxPool2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="conv3")
""",
    },
    given_away={"im2col_bytes": ("1460160000",), "cnn_param_counts": ("1199882",)},
    forbidden=("1199882", "1,199,882", "-(-w // stride)"),
    hidden_in=(
        "test_conv_output_size_valid",
        "test_conv_output_size_same",
        "test_conv_output_size_rejects_unknown_padding",
        "test_conv_params_one_bias_per_filter",
        "test_conv_params_non_square_kernel",
        "test_im2col_patches",
        "test_conv2d_im2col_random_shapes",
        "test_im2col_bytes_random",
        "test_batch_ranges_cover_images_under_limit",
        "test_conv2d_batched_values_and_limit",
        "test_cnn_param_counts_conv_layers",
        "test_cnn_param_counts_dense_layers",
        "test_cnn_param_counts_mnist_cnn",
        "test_conv3_architecture",
        "test_conv3_params",
    ),
    # the padding test's visible part already shows its "_raised = ..." lines
    skip_lines_shown_visibly=True,
)

# --------------------------------------------------------------------------- B2-3

_LENET5_LAYERS = """
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D({f1}, (5, 5), padding="same", activation="relu"),
        {pool}((2, 2)),{drop1}
        layers.Conv2D({f2}, (5, 5), padding="valid", activation="relu"),
        {pool}((2, 2)),{drop2}
        layers.Flatten(),
        layers.Dense({d1}, activation="relu"),{drop3}
        layers.Dense({d2}, activation="relu"),
        layers.Dense(10, activation="softmax"),
"""

B2_3 = NotebookSpec(
    assignment="B2-3",
    auto={
        "test_lenet5_layer_types": 1,
        "test_lenet5_layer_settings": 1,
        "test_output_shapes_lenet5": 1,
        "test_output_shapes_random_stacks": 1,
        "test_stack_params_lenet5": 1,
        "test_stack_params_random_stacks": 1,
        "test_dropout_model_uses_max_pooling": 1,
        "test_dropout_model_dropout_positions": 1,
        "test_wide_model_filters": 1,
        "test_wide_model_extra_params": 1,
    },
    manual={"discussion": 3},
    headings={"B2-3-1": 2, "B2-3-2": 4, "B2-3-3": 4, "B2-3-4": 3},
    stubs={
        "build_lenet5": "def build_lenet5() -> keras.Model:",
        "output_shapes": "def output_shapes(input_shape: tuple[int, int, int], stack: list[tuple]) -> list[tuple[int, ...]]:",
        "stack_params": "def stack_params(input_shape: tuple[int, int, int], stack: list[tuple]) -> int:",
        "build_lenet5_dropout": "def build_lenet5_dropout() -> keras.Model:",
        "build_lenet5_wide": "def build_lenet5_wide() -> keras.Model:",
    },
    wrong={
        # padding "valid" in the first convolution (24x24 instead of 28x28 after it)
        "build_lenet5": """
def build_lenet5() -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, (5, 5), padding="valid", activation="relu"),
        layers.AveragePooling2D((2, 2)),
        layers.Conv2D(16, (5, 5), padding="valid", activation="relu"),
        layers.AveragePooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
""",
        # "same" treated as "valid": right for the visible example, which only has valid
        "output_shapes": """
def output_shapes(input_shape, stack):
    h, w, c = input_shape
    shapes = []
    for layer in stack:
        if layer[0] == "conv":
            h, w, c = h - layer[2] + 1, w - layer[2] + 1, layer[1]
            shapes.append((h, w, c))
        elif layer[0] == "pool":
            h, w = h // layer[1], w // layer[1]
            shapes.append((h, w, c))
        elif layer[0] == "flatten":
            shapes.append((h * w * c,))
        else:
            shapes.append((layer[1],))
    return shapes
""",
        # every convolution counted with the input image's channels: right for one convolution
        "stack_params": """
def stack_params(input_shape, stack):
    total, previous = 0, tuple(input_shape)
    for layer, shape in zip(stack, output_shapes(input_shape, stack)):
        if layer[0] == "conv":
            total += layer[2] * layer[2] * input_shape[2] * layer[1] + layer[1]
        elif layer[0] == "dense":
            total += previous[0] * layer[1] + layer[1]
        previous = shape
    return total
""",
        # Dropout put before each pooling layer instead of after it
        "build_lenet5_dropout": """
def build_lenet5_dropout() -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, (5, 5), padding="same", activation="relu"),
        layers.Dropout(0.2),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(16, (5, 5), padding="valid", activation="relu"),
        layers.Dropout(0.2),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dropout(0.3),
        layers.Dense(84, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
""",
        # "twice as wide" read as doubling everything: filters 12/32 but also Dense 240/168
        "build_lenet5_wide": "def build_lenet5_wide() -> keras.Model:\n    return keras.Sequential([" + _LENET5_LAYERS.format(
            f1=12, f2=32, d1=240, d2=168, pool="layers.MaxPooling2D",
            drop1="\n        layers.Dropout(0.2),", drop2="\n        layers.Dropout(0.2),", drop3="\n        layers.Dropout(0.3),",
        ) + "    ])\n",
    },
    wrong_zero=frozenset(
        {
            "test_lenet5_layer_settings",
            "test_output_shapes_lenet5",
            "test_output_shapes_random_stacks",
            "test_stack_params_lenet5",
            "test_stack_params_random_stacks",
            "test_dropout_model_dropout_positions",
            "test_wide_model_extra_params",
        }
    ),
    alternative={
        # the functional API, kernel_size=5, AvgPool2D
        "build_lenet5": """
def build_lenet5() -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(filters=6, kernel_size=5, padding="same", activation="relu")(inputs)
    x = layers.AvgPool2D(pool_size=2)(x)
    x = layers.Conv2D(filters=16, kernel_size=5, activation="relu")(x)
    x = layers.AvgPool2D(pool_size=2)(x)
    x = layers.Flatten()(x)
    for units in (120, 84):
        x = layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="my_lenet")
""",
        # its own names, math.ceil for "same", shapes as lists
        "output_shapes": """
import math


def output_shapes(shape_in, layer_list):
    size = list(shape_in)
    result = []
    for spec in layer_list:
        if spec[0] == "conv":
            side = (lambda n: n if spec[3] == "same" else n - spec[2] + 1)
            size = [side(size[0]), side(size[1]), spec[1]]
        elif spec[0] == "pool":
            size = [math.floor(size[0] / spec[1]), math.floor(size[1] / spec[1]), size[2]]
        elif spec[0] == "flatten":
            size = [int(np.prod(size))]
        else:
            size = [spec[1]]
        result.append(list(size))
    return result
""",
        # without output_shapes: its own walk through the layers, NumPy integers
        "stack_params": """
def stack_params(input_shape, stack):
    h, w, c = (np.int64(v) for v in input_shape)
    fan_in = None
    total = np.int64(0)
    for spec in stack:
        if spec[0] == "conv":
            total += (spec[2] ** 2 * c + 1) * spec[1]
            if spec[3] == "valid":
                h, w = h - spec[2] + 1, w - spec[2] + 1
            c = spec[1]
        elif spec[0] == "pool":
            h, w = h // spec[1], w // spec[1]
        elif spec[0] == "flatten":
            fan_in = h * w * c
        else:
            total += (fan_in + 1) * spec[1]
            fan_in = spec[1]
    return total
""",
        # Sequential built with add(), pool_size=2
        "build_lenet5_dropout": """
def build_lenet5_dropout() -> keras.Model:
    model = keras.Sequential(name="improved")
    model.add(keras.Input((28, 28, 1)))
    for filters, padding in ((6, "same"), (16, "valid")):
        model.add(layers.Conv2D(filters, 5, padding=padding, activation="relu"))
        model.add(layers.MaxPooling2D(2))
        model.add(layers.Dropout(rate=0.2))
    model.add(layers.Flatten())
    model.add(layers.Dense(120, activation="relu"))
    model.add(layers.Dropout(0.3))
    model.add(layers.Dense(84, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    return model
""",
        # the functional API
        "build_lenet5_wide": """
def build_lenet5_wide() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(2 * 6, 5, padding="same", activation="relu")(inputs)
    x = layers.Dropout(0.2)(layers.MaxPool2D(2)(x))
    x = layers.Conv2D(2 * 16, 5, activation="relu")(x)
    x = layers.Dropout(0.2)(layers.MaxPool2D(2)(x))
    x = layers.Dense(120, activation="relu")(layers.Flatten()(x))
    x = layers.Dense(84, activation="relu")(layers.Dropout(0.3)(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))
""",
    },
    given_away={"stack_params": ("61706",), "output_shapes": ("(14, 14, 6)", "(10, 10, 16)")},
    forbidden=("61706", "61,706", "(14, 14, 6)", "(10, 10, 16)", "_lenet_params", "_out_side", "_side_after", "_weights_only", "採点者用の解答例"),
)

SPECS: dict[str, NotebookSpec] = {s.assignment: s for s in (B1_1, B1_2, B2_1, B2_2, B2_3)}

"""No tofu: every character course_utils' plot helpers draw has a glyph in the font drawing it.

Each helper makes a real figure (with the class names of MNIST, Fashion-MNIST and CIFAR-10
where it takes them, predictions where it shows them); the figure is drawn, and every
visible text in it (titles, suptitles, axis labels, tick labels, legends, cell values) is
checked character by character against the character map (``cmap``, read with fontTools)
of the fonts matplotlib renders that text with: the font ``font_manager`` finds for the
text's properties, followed by matplotlib's fallback fonts. Matplotlib's own "Glyph ...
missing from font(s)" warning must not appear either. The strings the notebooks hand to
the helpers (titles, run labels) are checked the same way.
"""

from __future__ import annotations

import ast
import functools
import io
import logging
import warnings
from collections.abc import Callable

import matplotlib
import nbformat
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.text import Text

import course_utils
from nbgrading import ASSIGNMENTS, release_notebook

matplotlib.use("Agg")

DATASETS = {
    "mnist": (course_utils.get_data_mnist, course_utils.MNIST_CLASSES),
    "fashion_mnist": (course_utils.get_data_fashion_mnist, course_utils.FASHION_MNIST_CLASSES),
    "cifar10": (course_utils.get_data_cifar, course_utils.CIFAR10_CLASSES),
}
HELPERS = {
    "random_plot",
    "plot_result",
    "plot_histories",
    "plot_filters",
    "plot_feature_maps",
    "plot_confusion_matrix",
    "plot_precision_recall",
    "plot_misclassified",
}


@functools.cache
def data(name: str):
    load, _ = DATASETS[name]
    return load(data_size=300, synthetic=True)


def predictions(y: np.ndarray) -> np.ndarray:
    """Labels with every class sometimes mistaken for the next one."""
    wrong = np.arange(len(y)) % 3 == 0
    return np.where(wrong, (y + 1) % 10, y)


def history(epochs: int = 4) -> dict[str, list[float]]:
    return {
        "accuracy": list(np.linspace(0.5, 0.9, epochs)),
        "val_accuracy": list(np.linspace(0.45, 0.85, epochs)),
        "loss": list(np.linspace(1.5, 0.3, epochs)),
        "val_loss": list(np.linspace(1.6, 0.45, epochs)),
    }


def figures() -> dict[str, Callable]:
    made: dict[str, Callable] = {}
    for name, (_, classes) in DATASETS.items():

        def examples(name=name, classes=classes):
            (x, y), _ = data(name)
            return course_utils.random_plot(x, y, class_names=classes, rows=2, seed=0)

        def examples_predicted(name=name, classes=classes):
            _, (x, y) = data(name)
            return course_utils.random_plot(x, y, predict=predictions(y), class_names=classes, rows=2, seed=0)

        def confusion(name=name, classes=classes):
            _, (_, y) = data(name)
            return course_utils.plot_confusion_matrix(y, predictions(y), class_names=classes)

        def confusion_normalised(name=name, classes=classes):
            _, (_, y) = data(name)
            return course_utils.plot_confusion_matrix(y, predictions(y), class_names=classes, normalize="true")

        def precision_recall(name=name, classes=classes):
            _, (_, y) = data(name)
            return course_utils.plot_precision_recall(y, predictions(y), classes)

        def misclassified(name=name, classes=classes):
            _, (x, y) = data(name)
            return course_utils.plot_misclassified(x, y, predictions(y), classes, n=16)

        for kind, make in (
            ("random_plot", examples),
            ("random_plot_predicted", examples_predicted),
            ("plot_confusion_matrix", confusion),
            ("plot_confusion_matrix_normalised", confusion_normalised),
            ("plot_precision_recall", precision_recall),
            ("plot_misclassified", misclassified),
        ):
            made[f"{kind}-{name}"] = make

    def no_class_names():
        _, (x, y) = data("mnist")
        return course_utils.random_plot(x, y, predict=predictions(y), rows=2, seed=0)

    def none_misclassified():
        _, (x, y) = data("mnist")
        return course_utils.plot_misclassified(x, y, y)

    def feature_maps():
        _, (x, _) = data("cifar10")
        return course_utils.plot_feature_maps(x[0], title="input image (label 3)")

    rng = np.random.default_rng(0)
    made.update(
        {
            "random_plot_digits_only": no_class_names,
            "plot_misclassified-none": none_misclassified,
            "plot_result": lambda: course_utils.plot_result(history()),
            "plot_histories": lambda: course_utils.plot_histories({f"p={r}": history() for r in (0.0, 0.3, 0.7)}),
            "plot_filters": lambda: course_utils.plot_filters(rng.normal(size=(5, 5, 3, 12))),
            "plot_feature_maps": feature_maps,
        }
    )
    return made


FIGURES = figures()


# ---------------------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------------------


@functools.cache
def cmap(path: str, face: int = 0) -> frozenset[int]:
    """Code points the font (face ``face`` of a .ttc collection) has a glyph for."""
    from fontTools.ttLib import TTFont

    kwargs = {"fontNumber": face} if path.lower().endswith((".ttc", ".otc")) else {}
    with TTFont(path, lazy=True, **kwargs) as font:
        return frozenset(font.getBestCmap() or {})


def rendering_fonts(prop) -> list[tuple[str, int]]:
    """(file, face) of the fonts matplotlib draws ``prop`` with: findfont's pick, then fallbacks."""
    found = [font_manager.findfont(prop)]
    find_all = getattr(font_manager.fontManager, "_find_fonts_by_props", None)  # matplotlib >= 3.6
    if find_all is not None:
        found += find_all(prop)
    fonts = [(str(f), int(getattr(f, "face_index", 0))) for f in found]  # FontPath (matplotlib >= 3.11) or str
    return list(dict.fromkeys(fonts))


def covered(ch: str, fonts: list[tuple[str, int]]) -> bool:
    return any(ord(ch) in cmap(path, face) for path, face in fonts)


def drawn_texts(fig) -> list[Text]:
    fig.canvas.draw()  # creates the tick labels
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def tofu(text: str, prop) -> list[str]:
    """Characters of ``text`` that no font matplotlib uses for ``prop`` has a glyph for."""
    fonts = rendering_fonts(prop)
    return [
        f"{ch!r} (U+{ord(ch):04X}) in {text!r}: not in {', '.join(path for path, _ in fonts)}"
        for ch in dict.fromkeys(text)
        if not ch.isspace() and not covered(ch, fonts)
    ]


def check_figure(make: Callable, caplog) -> tuple[list[str], list[str]]:
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="matplotlib"):
        warnings.simplefilter("always")
        fig = make()
        texts = drawn_texts(fig)
        fig.savefig(io.BytesIO(), format="png")  # what a notebook shows
    problems = [p for t in texts for p in tofu(t.get_text(), t.get_fontproperties())]
    problems += [str(w.message) for w in caught if "missing from" in str(w.message)]
    problems += [r.getMessage() for r in caplog.records if "findfont" in r.getMessage()]
    return problems, [t.get_text() for t in texts]


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_every_character_a_helper_draws_has_a_glyph(figure, caplog):
    problems, texts = check_figure(FIGURES[figure], caplog)
    assert texts, f"{figure}: the figure draws no text, so nothing was checked"
    assert not problems, f"{figure}: characters drawn as tofu boxes:\n" + "\n".join(problems)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_class_names_are_drawn_and_checked(dataset, caplog):
    """The checks above really covered every class name of every dataset."""
    classes = DATASETS[dataset][1]
    _, titles = check_figure(FIGURES[f"random_plot-{dataset}"], caplog)
    assert set(classes) <= set(titles), f"class names not drawn: {set(classes) - set(titles)}"
    _, ticks = check_figure(FIGURES[f"plot_confusion_matrix-{dataset}"], caplog)
    assert set(classes) <= set(ticks), f"class names not on the confusion matrix axes: {set(classes) - set(ticks)}"


def notebook_plot_strings() -> dict[str, str]:
    """String literals the release notebooks pass to the plot helpers (titles, run labels)."""
    from IPython.core.inputtransformer2 import TransformerManager

    found = {}
    for a in ASSIGNMENTS:
        path = release_notebook(a)
        if not path.is_file():
            pytest.fail(f"{path} is missing: run `course-grade release` first")
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(TransformerManager().transform_cell(cell.source))
            except SyntaxError:
                continue
            for call in ast.walk(tree):
                func = getattr(call, "func", None)
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if isinstance(call, ast.Call) and name in HELPERS:
                    for arg in [*call.args, *(k.value for k in call.keywords)]:
                        for node in ast.walk(arg):
                            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
                                found[node.value] = f"{a} cell {i}: {name}(...)"
    return found


def test_strings_the_notebooks_pass_to_plot_helpers_have_glyphs():
    strings = notebook_plot_strings()
    assert strings, "found no string passed to a plot helper in the notebooks: the parser is broken"
    prop = Text().get_fontproperties()  # the helpers only change the size of their texts
    problems = [f"{where}: {p}" for s, where in strings.items() for p in tofu(s, prop)]
    assert not problems, "\n".join(problems)


def test_checker_reports_characters_the_fonts_lack(caplog):
    """The check is not vacuous: a title the default fonts cannot draw is reported."""
    fonts = rendering_fonts(Text().get_fontproperties())
    probe = "正解率"  # Japanese: tofu unless a CJK font is configured for matplotlib
    if all(covered(ch, fonts) for ch in probe):
        probe = "\U0010FFFD"  # a private-use code point no font has

    def bad_title():
        fig = course_utils.plot_result(history())
        fig.axes[0].set_title(probe)
        return fig

    problems, _ = check_figure(bad_title, caplog)
    assert any(f"U+{ord(probe[0]):04X}" in p for p in problems), problems

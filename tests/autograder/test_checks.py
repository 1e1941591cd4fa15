"""Static review of student code for tricks that bend the grading."""

from __future__ import annotations

import nbformat
import pytest
from notebook_builders import release_nb, student_nb

from autograder import checks
from autograder.checks import Kind


def review(code):
    nb = student_nb()
    nb.cells.insert(5, nbformat.v4.new_code_cell(code))
    return [f.what for f in checks.review(nb, checks.instructor_names(release_nb()))]


def test_review_flags_input_transformers():
    found = review("get_ipython().input_transformers_post.append(lambda lines: lines)")
    assert any("IPython internals" in f for f in found)


def test_review_flags_monkeypatching_numpy_testing():
    assert review("np.testing.assert_allclose = lambda *a, **k: None") == ["monkeypatches np.testing.assert_allclose"]


def test_review_flags_rebinding_instructor_names():
    assert review("np = object()") == ["rebinds 'np', which the instructor's cells define"]


def test_review_flags_signal_and_exit():
    found = review("import signal, os\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nos._exit(0)")
    assert any("signal handling" in f for f in found) and any("os._exit" in f for f in found)


def test_review_flags_replacing_modules_and_threads():
    found = review("import sys, threading\nsys.modules['numpy'] = None")
    assert "monkeypatches sys.modules[...]" in found
    assert any("threads" in f for f in found)


def test_review_ignores_ordinary_student_code():
    assert review("import numpy\nx = np.zeros(3)\nmodel = None\nfor i in range(3):\n    x[i] = i\n%time y = 1\n!ls") == []


# ---------------------------------------------------------------- obfuscated access to the grader

SETUP = "import numpy as np\nfrom keras import layers\n\ndef plot_result(history):\n    return history"


def review_kinds(code):
    """(kind, what) of each finding for ``code`` in an extra cell, the instructor's setup importing
    ``np`` and ``layers`` and defining ``plot_result``."""
    release = release_nb()
    release.cells[1].source = SETUP
    nb = student_nb()
    nb.cells[1].source = SETUP
    nb.cells.insert(5, nbformat.v4.new_code_cell(code))
    return [(f.kind, f.what) for f in checks.review(nb, checks.instructor_names(release))]


def kinds(code):
    return {kind for kind, _ in review_kinds(code)}


@pytest.mark.parametrize(
    "code, kind",
    [
        ('globals()["np"] = None', Kind.DYNAMIC_ACCESS),
        ('name = "n" + "p"\nglobals()[name].testing.assert_allclose(1, 1)', Kind.DYNAMIC_ACCESS),
        ("globals().update(np=None)", Kind.DYNAMIC_ACCESS),
        ('g = globals\ng()["answer"] = 5', Kind.DYNAMIC_ACCESS),
        ('getattr(get_ipython(), "ev" + "ents").register("pre_run_cell", print)', Kind.DYNAMIC_ACCESS),
        ('ip = get_ipython()\nsetattr(ip.displayhook, "write_output_prompt", print)', Kind.MONKEYPATCH),
        ('shell = get_ipython()\ndef f(name):\n    setattr(shell.kernel.session, name, None)', Kind.MONKEYPATCH),
        ("from IPython import get_ipython as g\ng().events.register('post_run_cell', print)", Kind.IPYTHON),
        ('import sys\nhook = getattr(sys, "display" + "hook")', Kind.DYNAMIC_ACCESS),
        ("import sys\nsys.displayhook.shell = None", Kind.MONKEYPATCH),
        ('__import__("sys").settrace(print)', Kind.INTROSPECTION),
        ('m = __import__("o" + "s")', Kind.DYNAMIC_CODE),
        ("import sys as s\ns.settrace(print)", Kind.INTROSPECTION),
        ("from sys import setprofile as sp\nsp(print)", Kind.INTROSPECTION),
        ("import threading\nthreading.settrace(print)", Kind.INTROSPECTION),
        ('exec("get_ipython().events.register(\'post_run_cell\', print)")', Kind.IPYTHON),
        ('exec("import " + "ctypes")', Kind.DYNAMIC_CODE),
        ('code = compile("answer = 5", "x", "exec")\nexec(code)', Kind.DYNAMIC_CODE),
        ('run = exec\nrun("answer" + " = 5")', Kind.DYNAMIC_CODE),
        ('eval(compile(open("x").read(), "x", "exec"))', Kind.DYNAMIC_CODE),
        ("import gc\nholders = gc.get_referrers(double)", Kind.INTROSPECTION),
        ("import importlib\nimportlib.import_module('num' + 'py').testing.assert_allclose = print", Kind.DYNAMIC_CODE),
        ('import sys\nsys._getframe().f_globals["np"] = None', Kind.INTROSPECTION),
        ('double.__globals__["answer"] = 5', Kind.INTROSPECTION),
        ("import builtins\nbuiltins.AssertionError = Warning", Kind.MONKEYPATCH),
        ("import sys\nvars(sys.modules['__main__'])['answer'] = 5", Kind.DYNAMIC_ACCESS),
    ],
)
def test_review_flags_dynamic_access_to_the_graders_surroundings(code, kind):
    assert kind in kinds(code), review_kinds(code)


@pytest.mark.parametrize(
    "code, what",
    [
        ("for np in range(3):\n    pass", "rebinds 'np', which the instructor's cells define"),
        ("layers = None", "rebinds 'layers', which the instructor's cells define"),
        ("def f():\n    global layers\n    layers = None", "rebinds 'layers', which the instructor's cells define"),
        ("def plot_result(history):\n    return None", "redefines 'plot_result', which the instructor's cells define"),
        ("np, x = None, 1", "rebinds 'np', which the instructor's cells define"),
        ("if (np := None) is None:\n    pass", "rebinds 'np', which the instructor's cells define"),
        ("def f():\n    np.testing.assert_allclose = print", "monkeypatches np.testing.assert_allclose"),
        ("def f():\n    layers.Dense = None", "monkeypatches layers.Dense"),
    ],
)
def test_review_flags_module_level_rebinding_of_instructor_names(code, what):
    assert what in [w for _, w in review_kinds(code)]


@pytest.mark.parametrize(
    "code",
    [
        'def receptive_field(layers: list[tuple[int, int]]) -> int:\n    layers = list(layers)\n    rf = 1\n    for k, s in reversed(layers):\n        rf = (rf - 1) * s + k\n    return rf',
        "def f(np):\n    np = np + 1\n    np[0] = 2\n    return np",
        "def f(x):\n    def plot_result(h):\n        return h\n    layers = [1, 2]\n    layers[0] = 3\n    return plot_result(layers)",
        "squares = [np * np for np in range(3)]\nlookup = {layers: 1 for layers in 'ab'}",
        "class Config:\n    layers = 3\n    def __init__(self, **kw):\n        for key, value in kw.items():\n            setattr(self, key, value)",
        "def make(name):\n    return getattr(layers, name)(4)",
        "if 'model' not in globals():\n    model = None",
        "value = eval('2 * 3')",
        "f = lambda np: np + 1\ng = lambda layers=None: layers",
        "import numpy as np\nx = np.zeros(3)\nx[0] = 1",
        "result = plot_result({'loss': [1.0]})",
        "try:\n    pass\nexcept ValueError as err:\n    message = str(err)",
        "def helper(items):\n    total = 0\n    for np_value in items:\n        total += np_value\n    return total",
        "with open('x') as handle:\n    pass",
        "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (8, 4)",
        "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'",
        "import pandas as pd\npd.options.display.max_rows = 10",
    ],
    ids=[
        "parameter-rebound", "parameter-named-np", "local-helpers", "comprehension-variables", "class-setattr-self",
        "getattr-layer-by-name", "name-in-globals", "eval-of-a-literal", "lambda-parameters", "re-import", "calling-helpers",
        "except-name", "loop-in-function", "with-as", "matplotlib-settings", "environment-variable", "pandas-options",
    ],
)
def test_review_leaves_ordinary_student_code_alone(code):
    assert review_kinds(code) == []


def test_findings_are_typed_and_print_as_before():
    release = release_nb()
    nb = student_nb()
    nb.cells.insert(5, nbformat.v4.new_code_cell("x = 1\nnp = object()"))
    (finding,) = checks.review(nb, checks.instructor_names(release))
    assert finding == checks.Finding(5, 2, "rebinds 'np', which the instructor's cells define", Kind.REBINDING)
    assert str(finding) == "cell 5 line 2: rebinds 'np', which the instructor's cells define"


@pytest.mark.parametrize(
    "code",
    [
        "%time get_ipython().events.register('post_run_cell', print)",
        "%timeit -n 1 -r 1 np.testing.assert_allclose = print",
        "if True:\n    %prun globals()['np'] = None",
    ],
)
def test_review_reads_the_code_a_timing_magic_runs(code):
    assert review_kinds(code) != []


def test_review_ignores_ordinary_magics():
    assert review_kinds("%matplotlib inline\n%time model = None\n%%capture\n!pip install nothing") == []

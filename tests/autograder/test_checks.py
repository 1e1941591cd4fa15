"""Static review of student code for tricks that bend the grading."""

from __future__ import annotations

import nbformat
from notebook_builders import release_nb, student_nb

from autograder import checks


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

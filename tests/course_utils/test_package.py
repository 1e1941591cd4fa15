"""course_utils as a package: a flat public API, no name clashes, no import cycles."""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

import course_utils

PACKAGE = Path(course_utils.__file__).parent


def test_no_module_shadows_a_standard_library_module():
    modules = {m.name for m in pkgutil.iter_modules([str(PACKAGE)])}
    assert modules & set(sys.stdlib_module_names) == set()


def test_plots_depend_on_metrics_and_not_the_other_way_round():
    metrics = (PACKAGE / "metrics.py").read_text(encoding="utf-8")
    models = (PACKAGE / "models.py").read_text(encoding="utf-8")
    assert "from .metrics import" in (PACKAGE / "plots.py").read_text(encoding="utf-8")
    for source in (metrics, models):
        assert "from .plots" not in source


def test_every_public_name_is_re_exported_from_the_package():
    for module in ("config", "data", "metrics", "models", "plots", "training"):
        mod = __import__(f"course_utils.{module}", fromlist=["__all__"])
        exported = set(getattr(mod, "__all__", ())) & set(course_utils.__all__)
        for name in exported:
            assert getattr(course_utils, name) is getattr(mod, name), name
    assert {"per_class_metrics", "feature_maps", "model_diagram", "diagram_available"} <= set(course_utils.__all__)

"""The environments the grader hands on: to nbgrader's runs and to grading kernels.

A kernel gets an allow-listed environment built here, never the instructor's own (which
may hold database URLs or tokens): the grading-mode switches of :mod:`course_utils.config`,
quiet TensorFlow, a thread count that fits the number of parallel jobs, and the few
system variables a Python process needs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from course_utils import config as course_config

from .options import Options

#: variables a kernel may inherit from the grader's environment, when set
KERNEL_PASSTHROUGH = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONPATH",  # a development checkout of the course package
    "LD_LIBRARY_PATH",
    "OPENBLAS_CORETYPE",  # some processors need these for a correct OpenBLAS
    "OPENBLAS_L2_SIZE",
    "KERAS_BACKEND",
    "CUDA_VISIBLE_DEVICES",
)
#: TensorFlow's start-up lines on stderr; nbgrader's IgnorePattern drops them
TF_LOG_PATTERN = r"(absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|TF_ENABLE_ONEDNN_OPTS|rebuild TensorFlow|tensorflow/core|E0000|I0000|W0000)"


def with_own_bin(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this interpreter's bin folder first on PATH.

    nbgrader runs ``alembic`` from PATH; a cron job or CI that calls
    ``/path/to/venv/bin/course-grade`` without activating the venv would not find it.
    """
    own = str(Path(sys.executable).parent)
    path = env.get("PATH", os.defpath)
    if path.split(os.pathsep)[0] != own:
        path = os.pathsep.join([own, path])
    return {**env, "PATH": path}


def grader_env() -> dict[str, str]:
    """Environment of the grader's own child processes (nbgrader runs, the zygote)."""
    env = with_own_bin(dict(os.environ))
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    env.pop("JUPYTER_PATH", None)
    return env


def data_dir() -> str | None:
    """Where kernels find the datasets: ``$COURSE_DATA_DIR`` or Keras' cache, if present.

    A kernel's HOME is its own empty folder, so the grader's Keras cache is named
    explicitly (the sandbox binds it read-only).
    """
    explicit = os.environ.get(course_config.ENV_DATA_DIR)
    if explicit:
        return explicit
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    return str(cache) if cache.is_dir() else None


def kernel_env(opts: Options) -> dict[str, str]:
    """The whole environment of a grading kernel (nothing else of the grader's leaks in)."""
    env = {name: os.environ[name] for name in KERNEL_PASSTHROUGH if name in os.environ}
    env = with_own_bin(env)
    threads = str(opts.threads_per_job)
    env.update(
        {
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONWARNINGS": "ignore",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "NBGRADER_EXECUTION": "autograde",  # as nbgrader itself sets it
            course_config.ENV_GRADING: "1",
            course_config.ENV_GRADING_TRAIN_SIZE: str(opts.train_size),
            course_config.ENV_GRADING_TEST_SIZE: str(opts.test_size),
            course_config.ENV_GRADING_EPOCHS: str(opts.epochs),
            course_config.ENV_SYNTHETIC: opts.synthetic,
            "OMP_NUM_THREADS": threads,
            "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": "1",
        }
    )
    data = data_dir()
    if data:
        env[course_config.ENV_DATA_DIR] = data
    return env

"""The Colab path: a notebook's setup cell installs the course package and changes nothing else.

Colab has TensorFlow, Keras, NumPy, matplotlib, scikit-learn, pydot and IPython, but not
``course_utils``; ``google.colab`` is imported before any cell runs. The setup cell of every
release notebook runs ``%pip install -q "dl-course @ git+<repository>"`` there, then imports
``course_utils``. This module rebuilds that situation without touching this machine's
Python:

* a throw-away virtual environment that sees the system's packages (a view of
  site-packages, symlinks) except this repository's own editable ``dl-course`` install,
  so ``course_utils`` is not importable before the cell runs;
* a fake ``google.colab`` package, imported before the cell as Colab does;
* ``git`` redirected (``url.<local>.insteadOf`` in a temporary ``GIT_CONFIG_GLOBAL``)
  from the GitHub repository to a local git snapshot of this working tree, so ``%pip``
  clones, builds and installs exactly what would be on GitHub once committed.

Then the setup cell runs in IPython and the package must import from the virtual
environment, while every other distribution (keras, tensorflow, numpy, ...) keeps its
version and location: pip must neither upgrade nor downgrade anything.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

from nbgrading import ASSIGNMENTS, REPO, release_notebook

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

pytestmark = pytest.mark.slow

INSTALL = re.compile(r'^\s*%pip install -q "(?P<name>[\w.-]+) @ git\+(?P<url>[^"\s]+)"\s*$', re.MULTILINE)
SYSTEM_SITE = Path(sysconfig.get_paths()["purelib"])
WATCHED = ("keras", "tensorflow", "tensorflow-cpu", "numpy", "matplotlib", "scikit-learn", "pydot", "ipython")


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def setup_cell(assignment: str) -> str:
    """The one code cell of the release notebook that installs the package on Colab."""
    path = release_notebook(assignment)
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `course-grade release` first")
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
    assert len(cells) == 1, f"{assignment}: expected one setup cell mentioning google.colab, found {len(cells)}"
    return cells[0]


def course_utils_names(source: str) -> set[str]:
    """Names a setup cell imports from course_utils."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "course_utils"
        for alias in node.names
    }


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_setup_cell_installs_this_repository_on_colab_only(assignment):
    source = setup_cell(assignment)
    match = INSTALL.search(source)
    assert match, f"{assignment}: no `%pip install -q \"dl-course @ git+...\"` line in the setup cell:\n{source}"
    assert match["name"] == project()["name"] == "dl-course"
    assert match["url"] == project()["urls"]["Repository"], (
        f"{assignment} installs from {match['url']}, pyproject.toml's Repository is {project()['urls']['Repository']}"
    )
    guard = source[: match.start()].rstrip().splitlines()[-1]
    assert guard.strip().startswith('if "google.colab" in sys.modules:'), f"the install is not guarded by the Colab check:\n{source}"
    assert source.index("%pip") < source.index("import course_utils"), "course_utils is imported before it is installed"


# ---------------------------------------------------------------------------------------
# The simulated Colab
# ---------------------------------------------------------------------------------------


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


IGNORED_IN_ARCHIVE = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".grading", "grading-output", "artifacts", "build", "dist"}


def working_tree_files() -> list[str]:
    """The checkout's files: git's list in a clone, the file tree in a source archive (no .git)."""
    if (REPO / ".git").exists():
        listed = run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]).stdout
        return list(filter(None, listed.split("\0")))
    return [
        path.relative_to(REPO).as_posix()
        for path in sorted(REPO.rglob("*"))
        if path.is_file()
        and not IGNORED_IN_ARCHIVE & set(path.relative_to(REPO).parts)
        and not any(part.endswith(".egg-info") for part in path.relative_to(REPO).parts)
        and path.suffix != ".pyc"
    ]


def snapshot_repository(dest: Path) -> str:
    """A one-commit git repository holding this working tree (tracked and new, not ignored files)."""
    if shutil.which("git") is None:
        pytest.fail("git is not installed: pip needs it for the setup cell's git+https URL")
    for name in working_tree_files():
        src = REPO / name
        if src.is_file():  # a tracked file deleted in the working tree is left out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-C", str(dest), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    run(["git", "init", "-q", "-b", "main", str(dest)])
    run([*git, "add", "-A"])
    run([*git, "commit", "-q", "-m", "snapshot of the working tree"])
    return run([*git, "rev-parse", "HEAD"]).stdout.strip()


def hides_repository_install(entry: Path) -> bool:
    """Entries of site-packages that make this checkout importable (its editable install)."""
    if re.match(r"(?i)^(__editable__[._]+)?dl[-_]course\b", entry.name):
        return True
    if entry.suffix == ".pth" and entry.is_file():
        return str(REPO) in entry.read_text(errors="replace")
    return False


def system_view(dest: Path) -> None:
    """Symlinks to everything in the system's site-packages but this repository's install."""
    dest.mkdir()
    for entry in SYSTEM_SITE.iterdir():
        if not hides_repository_install(entry):
            (dest / entry.name).symlink_to(entry)


PROBE = textwrap.dedent(
    """
    import importlib.metadata, importlib.util, json, sys
    dists = {}
    for d in importlib.metadata.distributions():
        dists.setdefault(d.metadata["Name"].lower().replace("_", "-"), [d.version, str(d.locate_file(""))])
    spec = importlib.util.find_spec("course_utils")
    print(json.dumps({"dists": dists, "course_utils": spec and spec.origin, "prefix": sys.prefix}))
    """
)

DRIVER = textwrap.dedent(
    """
    import json, sys
    import google.colab  # Colab imports it before the first cell

    from IPython.core.interactiveshell import InteractiveShell

    names = json.loads(sys.argv[2])
    shell = InteractiveShell.instance()
    result = shell.run_cell(open(sys.argv[1], encoding="utf-8").read(), store_history=True)
    report = {"ok": result.success, "error": repr(result.error_in_exec or result.error_before_exec)}
    if result.success:
        import course_utils

        report["file"] = course_utils.__file__
        report["missing"] = [n for n in names if not hasattr(course_utils, n)]
        import keras, numpy, tensorflow

        report["loaded"] = {m.__name__: m.__file__ for m in (keras, numpy, tensorflow)}
    print("@@REPORT@@" + json.dumps(report))
    """
)


def probe(python: Path, env: dict, cwd: Path) -> dict:
    return json.loads(run([str(python), "-c", PROBE], env=env, cwd=cwd).stdout)


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """Run B1-1's setup cell in a simulated Colab; return what was there before and after."""
    tmp = tmp_path_factory.mktemp("colab")
    source = tmp / "dl-assignments"
    source.mkdir()
    commit = snapshot_repository(source)

    (tmp / "gitconfig").write_text(f'[url "{source.as_uri()}"]\n\tinsteadOf = {project()["urls"]["Repository"]}\n')
    fake = tmp / "colab-modules" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab (only its presence matters)."""\n')

    system_view(tmp / "system-site-packages")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    venv_site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # processed like the system's own site-packages (its .pth files run), but a view of it
    (venv_site / "_colab_system_site.pth").write_text(f"import site; site.addsitedir({str(tmp / 'system-site-packages')!r})\n")

    work = tmp / "content"  # Colab's working directory; not the repository
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "NBGRADER_", "PYTHON", "VIRTUAL_ENV", "GIT_"))}
    env.update(
        PYTHONNOUSERSITE="1",
        PYTHONPATH=str(tmp / "colab-modules"),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        GIT_CONFIG_GLOBAL=str(tmp / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        PIP_CACHE_DIR=str(tmp / "pip-cache"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        MPLBACKEND="Agg",
    )
    system_before = sorted(p.name for p in SYSTEM_SITE.iterdir())
    before = probe(python, env, work)

    cell = tmp / "setup_cell.py"
    cell.write_text(setup_cell("B1-1"), encoding="utf-8")
    names = sorted(set().union(*(course_utils_names(setup_cell(a)) for a in ASSIGNMENTS)))
    proc = subprocess.run(
        [str(python), "-c", DRIVER, str(cell), json.dumps(names)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    reports = [line for line in proc.stdout.splitlines() if line.startswith("@@REPORT@@")]
    assert proc.returncode == 0 and reports, f"the setup cell's driver failed ({proc.returncode}):\n{output}"
    return {
        "before": before,
        "after": probe(python, env, work),
        "report": json.loads(reports[-1][len("@@REPORT@@"):]),
        "output": output,
        "venv_site": venv_site,
        "commit": commit,
        "system_before": system_before,
        "system_after": sorted(p.name for p in SYSTEM_SITE.iterdir()),
    }


def test_course_utils_is_not_importable_before_the_setup_cell(colab):
    assert colab["before"]["course_utils"] is None, f"course_utils importable before the install: {colab['before']['course_utils']}"
    assert "dl-course" not in colab["before"]["dists"], "the system's dl-course install is visible in the simulated Colab"
    present = colab["before"]["dists"]
    assert {"keras", "numpy", "matplotlib", "ipython"} <= set(present), "the simulated Colab lacks what Colab has"
    assert {"tensorflow", "tensorflow-cpu"} & set(present), "the simulated Colab has no TensorFlow"


def test_setup_cell_installs_and_imports_course_utils(colab):
    report = colab["report"]
    assert report["ok"], f"the setup cell failed: {report['error']}\n{colab['output']}"
    assert Path(report["file"]).is_relative_to(colab["venv_site"]), f"course_utils came from {report['file']}"
    assert not report["missing"], f"names the notebooks import that the installed course_utils lacks: {report['missing']}"


def test_setup_cell_installed_this_working_tree_from_the_git_url(colab):
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    installed = colab["venv_site"] / "course_utils"
    for path in sorted((REPO / "course_utils").glob("*.py")):
        assert digest(installed / path.name) == digest(path), f"installed course_utils/{path.name} differs from the checkout"
    direct_url = next(colab["venv_site"].glob("dl_course-*.dist-info")) / "direct_url.json"
    recorded = json.loads(direct_url.read_text())
    assert recorded["url"] == project()["urls"]["Repository"], recorded
    assert recorded["vcs_info"]["vcs"] == "git", recorded
    assert recorded["vcs_info"]["commit_id"] == colab["commit"], f"not installed from the local snapshot: {recorded}"


def test_setup_cell_changes_nothing_but_dl_course(colab):
    before, after = colab["before"]["dists"], colab["after"]["dists"]
    added = sorted(set(after) - set(before))
    assert added == ["dl-course"], f"pip added {added}"
    assert after["dl-course"][0] == project()["version"]
    changed = {n: (before[n], after[n]) for n in before if after.get(n) != before[n]}
    assert not changed, f"pip changed installed distributions (version, location): {changed}"
    for name in WATCHED:  # said above for every distribution; spelled out for the ones that matter
        if name in before:
            assert after.get(name) == before[name], f"{name}: {before[name]} -> {after.get(name)}"
    loaded = colab["report"]["loaded"]
    for module, path in loaded.items():
        assert not Path(path).is_relative_to(colab["venv_site"]), f"{module} was installed into the Colab environment: {path}"
    own = sorted(p.name for p in colab["venv_site"].iterdir())
    unexpected = [n for n in own if not re.match(r"^(_colab_system_site\.pth|course_utils|autograder|dl_course-[\w.]+\.dist-info|__pycache__)$", n)]
    assert not unexpected, f"pip put more than dl-course into the environment: {unexpected}"
    assert colab["system_after"] == colab["system_before"], "the system's site-packages changed"

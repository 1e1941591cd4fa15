"""nbgrader configuration for the course. The repository root is the course directory:
source/ holds the instructor notebooks, release/ what students get (generated, never
edited by hand); submitted/, autograded/, feedback/ and gradebook.db are local state."""

import os

from autograder.options import CELL_TIMEOUT

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "dl-course"

# Notebooks run in grading mode (course_utils keeps a small data subset and caps
# epochs), so a whole notebook executes in well under a minute. The per-cell limit is
# course-grade's own (autograder/options.py), so plain nbgrader runs behave the same.
c.ExecutePreprocessor.timeout = CELL_TIMEOUT
c.ExecutePreprocessor.interrupt_on_timeout = True
c.ExecutePreprocessor.kernel_name = "python3"

c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "ここに回答を書いてください。"

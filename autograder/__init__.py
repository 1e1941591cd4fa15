"""Grading tools for the course: ``course-grade release|grade|demo`` (see cli.py)."""

"""Grading learners' exercise workbooks, one file or a whole class."""

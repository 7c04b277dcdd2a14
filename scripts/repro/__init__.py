"""The experiments of ``scripts/reproduce.py``, one module per group of chapters.

Each module defines ``EXPERIMENTS`` (name -> function returning a JSON-able dict) and
``TARGETS`` (the reproduction targets of ``blog-notes.md`` it measures: number -> experiment).
"""
# NOTE TO HELPERS WRITING AN EXPERIMENT MODULE: the shared instructions (conventions, models,
# CPU rules, appendix section format) are in /work/helper_common.md. Read it first.

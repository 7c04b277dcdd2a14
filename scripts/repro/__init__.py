"""The experiments of ``scripts/reproduce.py``, one module per group of chapters.

Each module defines ``EXPERIMENTS`` (name -> function returning a JSON-able dict) and
``TARGETS`` (the reproduction targets of ``blog-notes.md`` it measures: number -> experiment).
"""

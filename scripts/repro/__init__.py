"""The experiments of ``scripts/reproduce.py``, one module per group of chapters.

Each module defines ``EXPERIMENTS`` (name -> function returning a JSON-able dict) and
``TARGETS`` (the reproduction targets of ``blog-notes.md`` it measures: number -> experiment).
``TINY`` (optional: name -> function of no arguments) names a cheaper call of an experiment for
the tests, which re-run every experiment on tiny networks
(``tests/test_repro_results_schema.py``) where the registered call is too slow even there.
"""

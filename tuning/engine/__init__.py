"""The engine: spec → plan → units of work → parallel search → ``cv_results`` table.

``spec`` validates an experiment, ``plan`` lists candidates and the training runs they
share, ``training`` is one unit of work, ``search`` evaluates units (locally or on Dask
through ``cluster``), ``results`` assembles the table, ``store`` keeps every finished
unit in SQLite so that searches resume.
"""

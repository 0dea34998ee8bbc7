"""The engine: spec → plan → units of work → parallel search → ``cv_results`` table.

``spec`` validates an experiment, ``plan`` lists candidates and the training runs they
share (trajectories, and stacks of them), ``training`` is one unit of work, trained by
``lean`` (scikit-learn's stochastic solvers, bit for bit, several candidates at once),
``search`` evaluates units (locally or on Dask through ``cluster``), ``results``
assembles the table, ``store`` keeps every finished unit in SQLite so that searches resume.
"""

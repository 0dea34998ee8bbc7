"""The engine: spec → plan → units of work → parallel search → ``cv_results`` table.

``spec`` validates an experiment, ``plan`` lists candidates and the training runs they
share (trajectories, and stacks of them), ``training`` is one unit of work (train, then
score each checkpoint), trained by ``lean`` (scikit-learn's stochastic solvers, bit for
bit, several candidates at once) where it covers the settings, ``search`` evaluates units
(in this process and on worker processes, or on Dask through ``cluster``), ``results``
assembles the table, ``search_cv`` is ``tuning.GridSearchCV`` (scikit-learn's class,
evaluating through the same units), ``store`` keeps every finished unit in SQLite so that
searches resume.
"""

"""The engine: spec → plan → units of work → parallel search → ``cv_results`` table.

``spec`` validates an experiment, ``plan`` lists candidates and the training runs they
share, ``training`` is one unit of work (train, then score each checkpoint), ``search``
evaluates units (locally or on Dask through ``cluster``), ``results`` assembles the table,
``search_cv`` is ``tuning.GridSearchCV`` (scikit-learn's class, evaluating through the same
units), ``store`` keeps every finished unit in SQLite so that searches resume.
"""

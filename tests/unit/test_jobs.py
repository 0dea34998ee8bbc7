from tuning.jobs import SearchJob
from tuning.spec import parse_spec

SPEC = parse_spec({"dataset": "iris", "cv": 3, "param_grid": {"max_iter": [5, 10], "alpha": [1e-4, 1.0]}})


def test_a_job_runs_in_the_background_and_reports_progress():
    job = SearchJob(SPEC, n_jobs=1)
    state = job.wait(timeout=60)
    assert state.status == "finished" and state.error is None
    assert state.progress.fits_done == state.progress.fits_total == 12
    assert state.result.best_estimator is not None


def test_a_failing_spec_becomes_one_message():
    bad = parse_spec({"dataset": "iris", "cv": 60, "param_grid": {}})
    state = SearchJob(bad, n_jobs=1).wait(timeout=60)
    assert state.status == "failed" and state.error.startswith("cv: 60 folds need")


def test_cancel_keeps_finished_fits():
    job = SearchJob(parse_spec({"dataset": "digits", "cv": 3,
                                "param_grid": {"hidden_layer_sizes": [[32], [64]], "max_iter": [100, 200],
                                               "learning_rate_init": [1e-3, 2e-3, 3e-3]}}), n_jobs=1)
    while job.state().progress is None or job.state().progress.fits_done == 0:
        job.wait(timeout=0.05)
    job.cancel()
    state = job.wait(timeout=60)
    assert state.status == "cancelled"
    assert 0 < state.result.fits_done < state.result.fits_total

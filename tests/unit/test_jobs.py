from tuning.engine.spec import parse_spec
from tuning.services.jobs import SearchJob

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


def test_the_core_queue_is_first_come_first_served_and_never_over_capacity():
    import threading
    import time

    from tuning.services.jobs import CoreQueue

    queue = CoreQueue(capacity=2)
    order, peak, lock = [], [0], threading.Lock()
    tickets = [object() for _ in range(4)]

    def worker(i):
        assert queue.acquire(tickets[i], 2 if i == 0 else 1)
        with lock:
            order.append(i)
            peak[0] = max(peak[0], queue.in_use)
        time.sleep(0.3 if i == 0 else 0.05)
        queue.release(2 if i == 0 else 1)

    threads = []
    for i in range(4):
        threads.append(threading.Thread(target=worker, args=(i,)))
        threads[-1].start()
        time.sleep(0.02)  # arrive in order
    # ticket 0 holds both cores: the others wait in the order they came
    assert [queue.place(t) for t in tickets] == [None, 1, 2, 3]
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3] and peak[0] <= 2


def test_a_queued_search_waits_shows_its_place_and_gives_up_when_nobody_looks():
    import time

    from tuning.services.jobs import CoreQueue

    queue = CoreQueue(capacity=1)
    blocker = object()
    assert queue.acquire(blocker, 1)  # the only core is busy
    waiting = SearchJob(SPEC, queue=queue, abandon_after=0.5, n_jobs=1)
    deadline = time.monotonic() + 5
    while waiting.state().place is None and time.monotonic() < deadline:  # the thread joins the line
        time.sleep(0.01)
    state = waiting.state()
    assert state.status == "queued" and state.place == 1
    time.sleep(1.5)  # nobody polls it any more
    assert waiting.wait(timeout=10).status == "failed" and "given up" in waiting.state().error
    queue.release(1)
    job = SearchJob(SPEC, queue=queue, n_jobs=1)
    assert job.wait(timeout=60).status == "finished" and queue.in_use == 0


# Seeds cannot share a stack (learning rates would: the lean trainer trains them in one unit), so
# this is 36 units of one network each, several seconds in all.
MANY_UNITS = parse_spec({"dataset": "digits", "cv": 3,
                         "param_grid": {"hidden_layer_sizes": [[16], [32]], "max_iter": [30],
                                        "random_state": [0, 1, 2, 3, 4, 5]}})


# long enough (about ten stacked units of several seconds each) that it cannot finish on its own
# while the test leaves it alone, however fast the machine or the trainer gets
LONG = parse_spec({"dataset": "digits", "cv": 3,
                   "param_grid": {"hidden_layer_sizes": [[32], [64]], "max_iter": [200],
                                  "random_state": list(range(24))}})


def test_a_running_search_nobody_watches_stops_and_frees_its_slot():
    import time

    from tuning.services.jobs import CoreQueue

    queue = CoreQueue(capacity=1)
    job = SearchJob(LONG, queue=queue, abandon_after=1.0, n_jobs=1, store=None)
    while job.state().progress is None or job.state().progress.fits_done == 0:  # watched until it runs
        time.sleep(0.05)
    assert queue.in_use == 1
    deadline = time.monotonic() + 120  # nobody looks (in_use does not count as looking): it stops
    while queue.in_use and time.monotonic() < deadline:  # after the unit in progress
        time.sleep(0.1)
    assert queue.in_use == 0
    state = job.state()
    assert state.status == "cancelled" and state.abandoned
    assert 0 < state.result.fits_done < state.result.fits_total  # what finished is kept


def test_only_the_owner_key_stops_a_search_and_anyone_can_watch_it():
    job = SearchJob(MANY_UNITS, n_jobs=1)
    assert not job.stop(None) and not job.stop("") and not job.stop("guess")
    assert job.state().status in ("queued", "running")  # a visitor watches it; it goes on
    assert job.stop(job.owner_key)
    state = job.wait(timeout=120)
    assert state.status == "cancelled" and not state.abandoned


def test_a_search_never_runs_more_workers_than_its_queue_slots():
    from tuning.services.jobs import CoreQueue

    spec = parse_spec({**SPEC.to_dict(), "n_jobs": 16})
    state = SearchJob(spec, queue=CoreQueue(capacity=1), scheduler="local").wait(timeout=180)
    assert state.status == "finished", state.error
    assert len({f["worker"] for f in state.result.fits}) == 1  # a local Dask cluster of one worker, not 16
    state = SearchJob(spec, queue=CoreQueue(capacity=1)).wait(timeout=180)
    assert len({f["worker"] for f in state.result.fits}) == 1  # one loky worker (in-process), not 16


def test_a_store_that_breaks_before_the_search_does_not_stop_it(tmp_path):
    from tuning.engine.store import ExperimentStore

    db = tmp_path / "store.sqlite"
    store = ExperimentStore(db)
    db.write_bytes(b"no longer a database" * 500)
    state = SearchJob(SPEC, n_jobs=1, store=store).wait(timeout=60)
    assert state.status == "finished" and state.result.fits_done == 12

"""What the server process keeps out of its log (dashboard/server.py)."""

import warnings

from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

from dashboard.server import quiet_expected_warnings


def test_the_server_log_leaves_out_what_a_visitors_search_warns_about_and_keeps_the_rest():
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        quiet_expected_warnings()
        warnings.warn("Stochastic Optimizer: Maximum iterations (10) reached", ConvergenceWarning, stacklevel=1)
        warnings.warn("3 fits failed out of a total of 9.", FitFailedWarning, stacklevel=1)
        warnings.warn("One or more of the test scores are non-finite: [nan 0.5]", UserWarning, stacklevel=1)
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                      UserWarning, stacklevel=1)
        warnings.warn("the experiment store is locked", UserWarning, stacklevel=1)  # anything else stays
        warnings.warn("deprecated", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["the experiment store is locked", "deprecated"]

from sklearn.model_selection import ParameterGrid

from tuning.engine.plan import MAX_STACK, can_share_training, plan_search, stacks_of
from tuning.engine.spec import parse_spec


def _plan(grid, **estimator):
    return plan_search(parse_spec({"dataset": "iris", "cv": 3, "param_grid": grid,
                                   "estimator": {"random_state": 0, **estimator}}))


def test_candidates_come_in_parameter_grid_order():
    grid = [{"max_iter": [5, 10], "alpha": [1.0, 0.1]}, {"hidden_layer_sizes": [[3], [4, 2]]}]
    assert _plan(grid).candidates == list(ParameterGrid(grid))


def test_candidates_differing_only_in_max_iter_share_a_trajectory():
    plan = _plan({"max_iter": [50, 10, 20], "alpha": [1.0, 0.1]})
    assert len(plan.trajectories) == 2
    first = plan.trajectories[0]
    assert first.params["max_iter"] == 50 and sorted(first.checkpoints) == [10, 20, 50]
    assert [plan.candidates[c]["max_iter"] for c in first.candidates] == list(first.checkpoints)
    assert plan.max_epochs_to_train == 2 * 50 * 3
    assert plan.max_epochs_gridsearchcv == 2 * 80 * 3


def test_fixed_max_iter_applies_to_every_candidate():
    plan = _plan({"alpha": [1.0, 0.1]}, max_iter=7)
    assert [t.checkpoints for t in plan.trajectories] == [(7,), (7,)]


def test_lbfgs_and_random_starts_are_never_shared():
    assert len(_plan({"max_iter": [5, 10]}, solver="lbfgs").trajectories) == 2
    assert len(_plan({"max_iter": [5, 10]}, random_state=None).trajectories) == 2
    assert len(_plan({"max_iter": [5, 10], "solver": ["sgd", "lbfgs"]}).trajectories) == 3
    assert can_share_training({"solver": "sgd", "random_state": 3})
    assert not can_share_training({"random_state": True})


def test_costlier_networks_cost_more():
    plan = _plan({"hidden_layer_sizes": [[4], [64]], "max_iter": [10]})
    small, large = plan.trajectories
    assert large.cost() > small.cost()


def test_trajectories_that_differ_only_in_numbers_train_as_one_stack():
    plan = _plan({"hidden_layer_sizes": [[3], [5]], "learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1.0],
                  "max_iter": [5, 10]})
    stacks = stacks_of(plan.trajectories)
    assert sorted(len(s) for s in stacks) == [4, 4]  # one per hidden size: 2 rates x 2 alphas each
    for stack in stacks:
        sizes = {tuple(plan.trajectories[i].params["hidden_layer_sizes"]) for i in stack}
        assert len(sizes) == 1
    assert sorted(i for s in stacks for i in s) == list(range(len(plan.trajectories)))


def test_what_the_lean_trainer_does_not_cover_stands_alone():
    assert stacks_of(_plan({"alpha": [1e-4, 1.0]}, solver="lbfgs").trajectories) == [(0,), (1,)]
    assert stacks_of(_plan({"alpha": [1e-4, 1.0]}, random_state=None).trajectories) == [(0,), (1,)]
    assert stacks_of(_plan({"alpha": [1e-4, 1.0], "activation": ["relu", "tanh"]}).trajectories) == [(0, 1), (2, 3)]


def test_a_stack_holds_at_most_max_stack_trajectories():
    spec = parse_spec({"dataset": "iris", "param_grid": {"learning_rate_init": [1e-4 * (i + 1) for i in range(40)]}})
    stacks = stacks_of(plan_search(spec).trajectories)
    assert [len(s) for s in stacks] == [MAX_STACK, MAX_STACK, 40 - 2 * MAX_STACK]
    assert sorted(i for s in stacks for i in s) == list(range(40))

"""A notebook's ten lines: scikit-learn's GridSearchCV with one import changed (see README, "Use it from Python")."""
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tuning import GridSearchCV, fig_candidate_losses  # was: from sklearn.model_selection import GridSearchCV

X, y = load_digits(return_X_y=True)
grid = {"mlpclassifier__hidden_layer_sizes": [(16,), (64,)], "mlpclassifier__max_iter": [10, 20, 40]}
search = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(random_state=0)), grid, cv=3, n_jobs=2).fit(X, y)
print("best_params_", search.best_params_, "best_score_", round(search.best_score_, 4))
print(f"trained {search.epochs_trained_} epochs; scikit-learn's GridSearchCV trains {search.epochs_gridsearchcv_}")
fig_candidate_losses(search).write_html("loss_curves.html")  # every candidate's loss curve
print("saved as experiment", search.save_experiment(name="quickstart", dataset="digits"), "(Experiments page)")

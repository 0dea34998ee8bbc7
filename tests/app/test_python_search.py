"""A search fitted in Python (tuning.GridSearchCV) opens on the Experiments page like any other."""

from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from streamlit.testing.v1 import AppTest

from tuning import ExperimentStore, GridSearchCV

ROOT = Path(__file__).resolve().parents[2]


def test_a_search_saved_from_python_opens_with_its_charts_and_scores():
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(random_state=0)),
                          {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)], "mlpclassifier__max_iter": [5, 15]},
                          cv=3, return_train_score=True).fit(X[:300], y[:300])
    exp_id = search.save_experiment(ExperimentStore(), name="notebook", dataset="digits (first 300)")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/experiments.py")
    at.query_params["exp"] = exp_id
    at.run()
    assert not at.exception
    assert at.subheader[0].value == f"Experiment {exp_id}"
    best = next(m for m in at.metric if m.label.startswith("best_score_"))
    assert best.label == "best_score_ (score)" and float(best.value) == round(search.best_score_, 4)
    assert not any(link.label == "Open in Grid Search" for link in at.get("page_link"))
    assert any("fitted in Python" in i.value for i in at.info)  # the Code tab says where its code is

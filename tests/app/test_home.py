from pathlib import Path

from streamlit.testing.v1 import AppTest

from tuning.services.lessons import list_lessons

APP = str(Path(__file__).resolve().parents[2] / "app.py")
_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def test_home_page_renders_without_exception():
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Tuning Lab"


def test_the_home_page_lists_every_lesson_preset_and_every_page():
    at = AppTest.from_file(APP, default_timeout=30).run()
    text = at.markdown[0].value
    lessons = list_lessons()
    for lesson in lessons:
        assert lesson["title"].lower() in text.lower(), lesson["title"]
    assert f"{len(lessons)} one-click presets" in text or f"{_WORDS[len(lessons)]} one-click presets" in text
    assert "**Class**" in text and "MLPRegressor" in text and "MLPClassifier" in text

"""Class mode in real browsers: one teacher projecting at 1280x720 and six students (one on a 375x667
phone) against one hosted server (TUNING_HOSTED=1), which is restarted on the same store midway."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, CHROMIUM, click_and_wait, require_browser, running_app, wait_until_idle
from tests.processes import CHROMIUM_ARGS, free_port, start_streamlit, stop
from tuning.services.classroom import QUESTIONS
from tuning.services.lessons import LESSON_CACHE_ENV, LESSONS, LessonCache

# Every page is some student's foreground tab: no throttled timers in pages the test is not looking at.
UNTHROTTLED = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
               "--disable-backgrounding-occluded-windows"]
COUNT = ".st-key-class_count [data-testid='stMetricValue']"


@dataclass
class Server:
    """A hosted `streamlit run` that can be restarted on the same experiment store (a new port each time)."""

    env: dict[str, str]
    log: Path
    url: str = ""
    process: object = None

    def start(self) -> None:
        for _attempt in range(3):
            port = free_port()
            with self.log.open("a") as log:
                self.process = start_streamlit(port, self.env, log)
            if self.process is not None:
                self.url = f"http://127.0.0.1:{port}"
                return
        pytest.fail(f"streamlit did not start; log:\n{self.log.read_text()}")

    def restart(self) -> None:
        stop([self.process])
        self.start()


@pytest.fixture(scope="module")
def server(tmp_path_factory, _signing_key_file) -> Iterator[Server]:
    require_browser()
    folder = tmp_path_factory.mktemp("class-server")
    env = {**os.environ, "TUNING_HOSTED": "1", "TUNING_STORE": str(folder / "experiments.sqlite"),
           "TUNING_KEY_FILE": str(_signing_key_file)}
    running = Server(env, folder / "streamlit.log")
    running.start()
    yield running
    stop([running.process])
    print(f"\n--- streamlit server log ---\n{running.log.read_text()}")


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + UNTHROTTLED)
        yield browser
        browser.close()


def _page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(120_000)
    return page


def _start_class(teacher, url: str) -> str:
    teacher.goto(f"{url}/lessons?lesson=learning_rate")
    wait_until_idle(teacher)
    teacher.locator(".st-key-class_start_popover button").first.click()
    click_and_wait(teacher, teacher.locator(".st-key-class_start button"))
    code = re.search(r"class=([A-Z0-9]{6})", teacher.url).group(1)
    assert re.search(r"teacher=[\w-]{22,}", teacher.url) and "present=1" in teacher.url
    return code


def _answer(student, option: int) -> None:
    click_and_wait(student, student.locator(f".st-key-class_option_{option} button"))


def _expect_count(teacher, n: int, within_ms: int) -> float:
    """Wait until the projector shows ``n`` answers; returns the seconds it took."""
    from playwright.sync_api import expect

    started = time.perf_counter()
    expect(teacher.locator(COUNT)).to_have_text(str(n), timeout=within_ms)
    return time.perf_counter() - started


def test_a_class_predicts_sees_the_reveal_practises_and_survives_a_restart(browser, server):
    from playwright.sync_api import expect

    teacher = _page(browser, 1280, 720)
    code = _start_class(teacher, server.url)
    teacher_query = teacher.url.split("?", 1)[1]
    expect(teacher.locator(".st-key-class_code")).to_have_text(code)
    expect(teacher.get_by_test_id("stImage").first).to_be_visible()  # the QR code
    expect(teacher.locator(COUNT)).to_have_text("0")

    # the phone joins by typing the code; five more students open the link
    phone = _page(browser, 375, 667)
    phone.goto(f"{server.url}/class")
    wait_until_idle(phone)
    phone.get_by_label("Class code").fill(f"{code[:3].lower()} {code[3:].lower()}")
    click_and_wait(phone, phone.get_by_role("button", name="Join"))
    expect(phone.locator(".st-key-class_option_0 button")).to_be_visible()
    students = [phone] + [_page(browser, 800 + 40 * i, 700) for i in range(5)]
    for student in students[1:]:
        student.goto(f"{server.url}/class?c={code}")
        wait_until_idle(student)
    tokens = [re.search(r"[?&]s=([0-9a-f]{16})", s.url).group(1) for s in students]
    assert len(set(tokens)) == 6  # one anonymous token each, kept in each page's address

    choices = [1, 1, 0, 2, 1, 1]  # "0.01" is index 1
    seconds = []
    for n, (student, option) in enumerate(zip(students, choices, strict=True), start=1):
        _answer(student, option)
        seconds.append(_expect_count(teacher, n, within_ms=2_000))
    print(f"answer-to-histogram (after the student's page settled): max {max(seconds):.2f} s")
    expect(phone.get_by_test_id("stAlertContentSuccess")).to_contain_text("Your answer: 0.01")
    bars = teacher.locator(".st-key-class_votes .bars .point")
    expect(bars).to_have_count(3)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    teacher.screenshot(path=str(ARTIFACTS / "class-teacher-predict.png"))
    phone.screenshot(path=str(ARTIFACTS / "class-student-predict.png"))

    # a reload keeps the answer, and a second answer replaces the first
    phone.reload()
    wait_until_idle(phone)
    expect(phone.get_by_test_id("stAlertContentSuccess")).to_contain_text("Your answer: 0.01")
    _answer(students[3], 1)
    time.sleep(1.5)  # the count stays at 6: one answer per student
    expect(teacher.locator(COUNT)).to_have_text("6")

    # only the teacher's link runs the class: the code alone shows no controls
    stranger = _page(browser, 1280, 720)
    stranger.goto(f"{server.url}/lessons?class={code}&teacher=not-the-key-{'x' * 20}")
    wait_until_idle(stranger)
    expect(stranger.get_by_text("This teacher link is not valid")).to_be_visible()
    expect(stranger.locator(".st-key-class_reveal")).to_have_count(0)

    click_and_wait(teacher, teacher.locator(".st-key-class_reveal button"))
    expect(teacher.locator(".st-key-class_share")).to_contain_text("83% were right (5 of 6)")
    expect(teacher.locator(".st-key-class_reveal_fig .main-svg").first).to_be_visible()
    expect(teacher.locator(".st-key-class_reveal_fig")).to_contain_text("5 votes")
    teacher.screenshot(path=str(ARTIFACTS / "class-teacher-reveal.png"))
    expect(phone.locator(".st-key-class_result")).to_contain_text("Right! You said 0.01", timeout=10_000)
    expect(students[2].locator(".st-key-class_result")).to_contain_text("the answer is 0.01", timeout=10_000)

    # your turn: a student's check is trained by the engine and lands on the projected leaderboard
    click_and_wait(teacher, teacher.locator(".st-key-class_practice button"))
    expect(phone.get_by_role("button", name="Check it")).to_be_visible(timeout=10_000)
    name = phone.get_by_label("Name on the leaderboard (optional)")
    name.fill("**Ada** [x](http://e.v)")  # 23 characters: the field takes 24
    name.press("Tab")
    click_and_wait(phone, phone.get_by_role("button", name="Check it"))
    expect(phone.locator(".st-key-class_attempt")).to_contain_text("test accuracy")
    board = teacher.locator(".st-key-class_leaderboard")
    expect(board).to_contain_text("**Ada** [x](http", timeout=5_000)  # as typed: plain text, no markup
    expect(board.locator("a, strong")).to_have_count(0)
    phone.screenshot(path=str(ARTIFACTS / "class-student-practice.png"), full_page=True)

    # a restart loses nothing: the teacher's link and the students' addresses carry on
    server.restart()
    teacher.goto(f"{server.url}/lessons?{teacher_query}")
    wait_until_idle(teacher)
    expect(teacher.locator(".st-key-class_code")).to_have_text(code)
    expect(teacher.locator(".st-key-class_leaderboard")).to_contain_text("Ada", timeout=10_000)
    click_and_wait(teacher, teacher.locator(".st-key-class_back button"))
    expect(teacher.locator(".st-key-class_share")).to_contain_text("83% were right (5 of 6)")
    phone.goto(f"{server.url}/class?c={code}&s={tokens[0]}")
    wait_until_idle(phone)
    expect(phone.locator(".st-key-class_result")).to_contain_text("Right! You said 0.01")

    # the next preset opens a new question for everyone
    click_and_wait(teacher, teacher.locator(".st-key-class_next button"))
    expect(teacher.locator(".st-key-class_prompt")).to_contain_text("hidden units")
    expect(teacher.locator(COUNT)).to_have_text("0")
    expect(phone.locator(".st-key-class_option_0 button")).to_be_visible(timeout=10_000)
    expect(phone.get_by_text("hidden units")).to_be_visible()


def test_a_preset_still_being_prepared_opens_for_answers_and_reveals_once_ready(browser, prepared_lessons,
                                                                                 tmp_path, _signing_key_file):
    """A fresh server's class can reach a preset before the server has prepared it: the teacher's page
    says so, students answer meanwhile, and the reveal appears by itself once the preset is stored."""
    from playwright.sync_api import expect

    lessons = LessonCache(tmp_path / "lessons")
    for name in LESSONS:
        if name != "hidden_size":
            lessons.save(prepared_lessons.load(name))
    env = {**os.environ, "TUNING_STORE": str(tmp_path / "experiments.sqlite"),
           "TUNING_KEY_FILE": str(_signing_key_file), LESSON_CACHE_ENV: str(lessons.root)}
    # Holding the folder's lock keeps the server's preparing process waiting: hidden_size stays
    # missing until this test stores it.
    with lessons.computing(), running_app(tmp_path / "streamlit.log", env) as (url, _):
        teacher = _page(browser, 1280, 720)
        code = _start_class(teacher, url)
        click_and_wait(teacher, teacher.locator(".st-key-class_next button"))
        expect(teacher.locator(".st-key-class_prompt")).to_contain_text("hidden units")
        expect(teacher.locator(".st-key-class_preparing")).to_contain_text(
            f"{len(LESSONS) - 1} of {len(LESSONS)} presets ready")
        expect(teacher.locator(".st-key-class_reveal button")).to_be_disabled()

        student = _page(browser, 375, 667)
        student.goto(f"{url}/class?c={code}")
        wait_until_idle(student)
        _answer(student, QUESTIONS["hidden_size"].options.index("8"))
        _expect_count(teacher, 1, within_ms=5_000)

        lessons.save(prepared_lessons.load("hidden_size"))  # as the preparing process would
        expect(teacher.locator(".st-key-class_preparing")).to_have_count(0, timeout=10_000)
        expect(teacher.locator(".st-key-class_reveal button")).to_be_enabled()
        expect(teacher.locator(".st-key-class_prompt")).to_contain_text("hidden units")  # still the same preset
        click_and_wait(teacher, teacher.locator(".st-key-class_reveal button"))
        expect(teacher.locator(".st-key-class_share")).to_contain_text("of 1)")
        expect(teacher.locator(".st-key-class_reveal_fig .main-svg").first).to_be_visible()
        teacher.context.close()
        student.context.close()

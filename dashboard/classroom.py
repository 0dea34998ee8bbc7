"""Class mode in the dashboard: the teacher's projected view (inside Lessons) and the students' phone page.

The teacher's link carries the class code and the teacher's secret key
(``/lessons?class=CODE&teacher=KEY&present=1``); a student's carries the code and an
anonymous token made on their first visit (``/class?c=CODE&s=TOKEN``), so a reload keeps
their answers. Both pages poll the store with fragments: the projector's answer count
and histogram every second, a phone every two seconds for the teacher's next step.
Everything a visitor sends goes through :mod:`tuning.services.classroom`, which checks it.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import segno
import streamlit as st

from dashboard.charts import show_chart
from dashboard.hosting import hosted_limits
from dashboard.lessons import lesson_preparer, lesson_result
from dashboard.store import experiment_store
from dashboard.text import plain
from tuning.class_figures import fig_reveal, fig_votes
from tuning.services.classroom import (
    DEFAULT_MINUTES,
    EXERCISES,
    MAX_NAME,
    QUESTIONS,
    SPREAD_BUCKETS,
    ClassError,
    Classroom,
    ClassSession,
    RateLimit,
    Setting,
    Tally,
    check_exercise,
    new_student_token,
    valid_student,
)
from tuning.services.lessons import LESSONS, LessonResult

ANSWERS_PER_MINUTE = 20  # per browser session: enough to change one's mind, not to flood the store
CHECKS_PER_MINUTE = 6

STUDENT_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"] { display: none; }
[data-testid="stMainBlockContainer"] { padding: 1rem 1rem 3rem; }
[data-testid="stMarkdownContainer"] p { font-size: 1.15rem; }
.stButton button { min-height: 3.2rem; font-size: 1.2rem; }
</style>
"""


@st.cache_resource(show_spinner=False)
def _classroom_at(path: str) -> Classroom:
    return Classroom(experiment_store())


def classroom() -> Classroom | None:
    """The class sessions of this server (in its experiment store), or None when the store cannot be used."""
    store = experiment_store()
    return None if store is None else _classroom_at(str(store.path))


@st.cache_resource(show_spinner=False)
def _check_slots() -> threading.BoundedSemaphore:
    """Exercise checks running at once on this server: one per core, whatever the class size."""
    return threading.BoundedSemaphore(hosted_limits().n_jobs if hosted_limits().enabled else os.cpu_count() or 1)


def _limit(name: str, per_minute: int) -> RateLimit:
    return st.session_state.setdefault(f"class_rate_{name}", RateLimit(per_minute, 60.0))


def _base_url() -> str:
    """This app's address without the page (``http://host:port``, or with the server's base path)."""
    url = st.context.url or ""
    return url.rsplit("/", 1)[0] if url.count("/") > 2 else url


def student_link(code: str) -> str:
    return f"{_base_url()}/class?c={code}"


def teacher_link(code: str, key: str) -> str:
    return f"{_base_url()}/lessons?class={code}&teacher={key}&present=1"


@st.cache_data(max_entries=64, show_spinner=False)
def qr_svg(text: str) -> str:
    """A QR code of ``text`` as SVG, drawn here (nothing is fetched)."""
    return segno.make(text, error="m").svg_inline(scale=5, dark="#000000", light="#ffffff", border=2)


# --- The teacher ---------------------------------------------------------------------------


def start_class_button() -> None:
    """The Lessons page's way into class mode: start a session, then continue on the teacher's link."""
    room = classroom()
    with st.popover("Class mode", icon=":material/groups:", key="class_start_popover"):
        if room is None:
            st.warning("Class mode needs the experiment store, which cannot be used on this server right now.")
            return
        st.markdown("Students predict each preset's outcome on their phones; then you reveal the chart with "
                    "their guesses on it, and they try it themselves.")
        minutes = st.select_slider("The class ends after (minutes)", [30, 45, 60, 90, 120, 180, 240],
                                   value=DEFAULT_MINUTES, key="class_minutes")
        st.button("Start a class", type="primary", key="class_start", on_click=_start_class, args=(room, minutes))


def _start_class(room: Classroom, minutes: int) -> None:
    """Start a session and turn this page into its teacher's page (projected), before the widgets are drawn."""
    session, key = room.start(minutes, preset=st.session_state.get("lesson"))
    st.query_params.update({"class": session.code, "teacher": key, "present": "1"})
    st.session_state["present_lessons"] = st.session_state["present"] = True


def teacher_session() -> tuple[Classroom, ClassSession, str] | None:
    """The class this page's teacher link runs, or None (a bad or ended link says so, once)."""
    code, key = st.query_params.get("class"), st.query_params.get("teacher")
    if not code:
        return None
    room = classroom()
    if room is None or not room.is_teacher(code, key):
        st.error("This teacher link is not valid on this server: its class does not exist or the key is not "
                 "this class's. Start a new class from **Class mode**.", icon=":material/key_off:")
        return None
    session = room.session(code)
    if not session.is_open():
        st.info("This class has ended. Start a new one from **Class mode**.", icon=":material/event_busy:")
        return None
    return room, session, key


def _leave_class() -> None:
    for name in ("class", "teacher"):
        st.query_params.pop(name, None)


def _move(room: Classroom, code: str, key: str, **where: str) -> None:
    try:
        room.move(code, key, **where)
    except ClassError as exc:
        st.session_state["class_problem"] = str(exc)


def _reveal(room: Classroom, code: str, key: str, preset: str) -> None:
    result = lesson_result(preset)  # as it is now: it may have become ready since the button was drawn
    if result is None:
        st.session_state["class_problem"] = "this preset's chart is still being prepared; reveal it once it is ready"
        return
    try:
        room.reveal(code, key, result)
    except ClassError as exc:
        st.session_state["class_problem"] = str(exc)


def _end(room: Classroom, code: str, key: str) -> None:
    room.end(code, key)
    _leave_class()


TEACHER_CSS = """
<style>
.st-key-class_code p { font-size: 2.6rem; font-weight: 700; letter-spacing: 0.12em; margin: 0; line-height: 1.1; }
.st-key-class_prompt p { font-size: 1.45rem; font-weight: 600; line-height: 1.3; margin-bottom: 0.2rem; }
.st-key-class_controls button { min-height: 2.6rem; }
</style>
"""


def teacher_view(class_: tuple[Classroom, ClassSession, str], preset: str, result: LessonResult | None) -> None:
    """The projected class, on one 1280x720 screen: on the left the code, the QR code, the link and the
    teacher's buttons; on the right the round's question and its live answers, reveal or leaderboard.

    ``preset`` is the one the page's preset buttons show (the class follows it); ``result``
    its computed result, or None while the server prepares it: the class answers meanwhile,
    and the page redraws itself with the reveal's chart once the preset is ready.
    """
    room, session, key = class_
    if preset != session.preset:
        session = room.move(session.code, key, preset=preset)
    st.markdown(TEACHER_CSS, unsafe_allow_html=True)  # our own stylesheet, no user content
    side, main = st.columns([1, 3.2], gap="medium")
    with side:
        link = student_link(session.code)
        with st.container(key="class_code"):
            st.markdown(session.code)
        st.image(qr_svg(link), width=150)
        st.caption(plain(f"{link.split('://', 1)[-1].split('?', 1)[0]} · {session.minutes_left()} min left"))
        with st.container(key="class_controls"):
            _teacher_controls(room, session, key, result)
    with main:
        question = QUESTIONS[preset]
        prompt = EXERCISES[preset].prompt if session.phase == "practice" else question.prompt
        with st.container(key="class_prompt"):
            st.markdown(plain(prompt))
        if problem := st.session_state.pop("class_problem", None):
            st.warning(plain(problem), icon=":material/info:")
        if result is None and session.phase != "practice":  # only the reveal needs the preset's result
            until_prepared(preset, revealing=session.phase == "reveal")
        if session.phase == "predict":
            live_answers(session.code, preset, room)
        elif session.phase == "reveal":
            show_reveal(room, session.code, preset, result)
        else:
            live_leaderboard(session.code, preset, room)


def _teacher_controls(room: Classroom, session: ClassSession, key: str, result: LessonResult | None) -> None:
    code, names = session.code, list(LESSONS)
    if session.phase == "predict":
        st.button("Reveal", type="primary", key="class_reveal", icon=":material/visibility:", width="stretch",
                  disabled=result is None, on_click=_reveal, args=(room, code, key, session.preset))
    elif session.phase == "reveal":
        st.button("Your turn", type="primary", key="class_practice", icon=":material/sports_score:",
                  width="stretch", on_click=_move, args=(room, code, key), kwargs={"phase": "practice"})
    else:
        st.button("Back to the reveal", key="class_back", icon=":material/undo:", width="stretch",
                  on_click=_move, args=(room, code, key), kwargs={"phase": "reveal"})
    later = names[names.index(session.preset) + 1:]
    if later:
        st.button("Next preset", key="class_next", icon=":material/arrow_forward:", width="stretch",
                  on_click=_next_preset, args=(room, code, key, later[0]))
    with st.popover("Teacher link", icon=":material/key:", key="class_teacher_link", width="stretch"):
        st.caption("Only this link runs the class (the code alone cannot). Keep it to reopen the class after a "
                   "restart or on another computer:")
        st.code(teacher_link(code, key), language=None, wrap_lines=True)
    st.button("End class", key="class_end", icon=":material/stop_circle:", width="stretch",
              on_click=_end, args=(room, code, key))


def _next_preset(room: Classroom, code: str, key: str, preset: str) -> None:
    st.session_state["lesson"] = preset  # the page's preset buttons follow the class
    _move(room, code, key, preset=preset)


@st.fragment(run_every=1.0)
def until_prepared(preset: str, *, revealing: bool) -> None:
    """Say that the preset is being prepared, and redraw the page as soon as it is ready (checked every second)."""
    if lesson_result(preset) is not None:
        st.rerun(scope="app")
    preparer = lesson_preparer()
    if preparer.failed:
        st.error("Preparing the presets failed; the server log has the details. Restart the server to try again.",
                 icon=":material/build:")
        return
    ready = sum(preparer.result(name) is not None for name in LESSONS)
    then = ("its chart appears here by itself" if revealing
            else "answers are open meanwhile, and Reveal works once it is ready")
    with st.container(key="class_preparing"):
        st.info(f"The server is preparing “{LESSONS[preset].title}” ({ready} of {len(LESSONS)} presets ready): "
                f"{then}.", icon=":material/hourglass_top:")


@st.fragment(run_every=1.0)
def live_answers(code: str, preset: str, room: Classroom) -> None:
    """The answers so far: their count and histogram, redrawn every second."""
    tally = room.tally(code, preset)
    count, chart = st.columns([1, 5], vertical_alignment="center")
    with count.container(key="class_count"):
        st.metric("Answers", tally.total)
    fig = fig_votes(tally.counts, title="The class's predictions")
    fig.update_layout(height=420)
    show_chart(fig, "class_votes", container=chart, config={"displayModeBar": False})


@st.cache_resource(max_entries=32, show_spinner=False)
def _reveal_figure(preset: str, counts: str, right: str | None, presenting: bool, _result: LessonResult) -> Any:
    fig = fig_reveal(_result, json.loads(counts), right=right, buckets=SPREAD_BUCKETS, projection=presenting)
    fig.update_layout(height=400 if presenting else 480)
    return fig


def _share_line(tally: Tally) -> str:
    if not tally.total:
        return f"Nobody answered. {tally.explanation}"
    right = tally.counts.get(tally.right, 0) if tally.right else 0
    return f"**{tally.share_right:.0%} were right** ({right} of {tally.total}). {tally.explanation}"


def show_reveal(room: Classroom, code: str, preset: str, result: LessonResult | None) -> None:
    """The preset's chart with the class's guesses on it, and the share who were right."""
    if result is None:  # until_prepared says so, and redraws the page when it is ready
        return
    tally = room.tally(code, preset)
    fig = _reveal_figure(preset, json.dumps(tally.counts), tally.right,
                         bool(st.session_state.get("present")), result)
    show_chart(fig, "class_reveal_fig", shared=True, config={"displayModeBar": False})
    with st.container(key="class_share"):
        st.markdown(_share_line(tally))  # our own numbers and the result's explanation, no user text


@st.fragment(run_every=2.0)
def live_leaderboard(code: str, preset: str, room: Classroom) -> None:
    """The class's best scores at the exercise, best first, names as plain text."""
    exercise = EXERCISES[preset]
    board = room.leaderboard(code, preset, limit=8)
    if not board:
        st.info(f"Waiting for the first score: the goal is {exercise.goal:.2f}. Students try it on their phones.")
        return
    rows = ["| # | name | score | settings |", "|---:|---|---:|---|"]
    for entry in board:
        settings = ", ".join(f"{k}={v}" for k, v in entry.settings.items())
        star = " ★" if entry.score > exercise.goal else ""
        rows.append(f"| {entry.rank} | {plain(entry.name)} | {entry.score:.3f}{star} | {plain(settings)} |")
    with st.container(key="class_leaderboard"):
        st.markdown("\n".join(rows))


# --- A student ------------------------------------------------------------------------------


def _join_form() -> None:
    st.title("Join the class")
    with st.form("class_join", border=False):
        typed = st.text_input("Class code", max_chars=16, placeholder="e.g. K7M2QX", key="class_code_typed")
        if st.form_submit_button("Join", type="primary", width="stretch"):
            st.query_params.update({"c": typed.strip().upper()[:16], "s": new_student_token()})
            st.rerun()


def _record_answer(room: Classroom, code: str, student: str, preset: str, option: str) -> None:
    if not _limit("answers", ANSWERS_PER_MINUTE).allow():
        st.session_state["class_problem"] = "Too many answers in a minute: wait a moment and try again."
        return
    try:
        room.answer(code, student, preset, option)
    except ClassError as exc:
        st.session_state["class_problem"] = str(exc)


def student_view() -> None:
    """A student's phone: join by code, answer the question, see the reveal, try the exercise."""
    st.markdown(STUDENT_CSS, unsafe_allow_html=True)  # our own stylesheet, no user content
    room = classroom()
    if room is None:
        st.error("Class mode is unavailable: this server's experiment store cannot be used right now.")
        return
    code = st.query_params.get("c")
    if not code:
        _join_form()
        return
    session = room.session(code)
    if session is None:
        st.error("There is no class with this code. Check the code on the projector.", icon=":material/search_off:")
        st.query_params.pop("c", None)
        _join_form()
        return
    student = st.query_params.get("s")
    if not valid_student(student):  # first visit (or a mangled address): a new anonymous token
        st.query_params["s"] = student = new_student_token()
    if not session.is_open():
        st.info("This class has ended. Thank you for taking part!", icon=":material/event_busy:")
        return
    follow_teacher(session.code, session.changed)
    st.caption(f"Class {session.code} · {LESSONS[session.preset].title}")
    if problem := st.session_state.pop("class_problem", None):
        st.warning(plain(problem), icon=":material/info:")
    if session.phase == "predict":
        _predict(room, session, student)
    else:
        _revealed(room, session, student)
        if session.phase == "practice":
            _practice(room, session, student)


@st.fragment(run_every=2.0)
def follow_teacher(code: str, changed: float) -> None:
    """Reload the page when the teacher moves the class on (checked every two seconds)."""
    session = classroom().session(code)
    if session is not None and (session.changed != changed or not session.is_open()):
        st.rerun(scope="app")


def _predict(room: Classroom, session: ClassSession, student: str) -> None:
    question = QUESTIONS[session.preset]
    st.markdown(f"#### {plain(question.prompt)}")
    mine = room.my_answer(session.code, student, session.preset)
    for i, option in enumerate(question.options):
        chosen = option == mine
        st.button(option, key=f"class_option_{i}", width="stretch", type="primary" if chosen else "secondary",
                  icon=":material/check:" if chosen else None, on_click=_record_answer,
                  args=(room, session.code, student, session.preset, option))
    if mine is not None:
        st.success(plain(f"Your answer: {mine}. You can change it until the teacher reveals."),
                   icon=":material/how_to_vote:")
    else:
        st.caption("Tap your prediction. Answers are anonymous.")


def _revealed(room: Classroom, session: ClassSession, student: str) -> None:
    tally = room.tally(session.code, session.preset)
    mine = room.my_answer(session.code, student, session.preset)
    st.markdown(f"#### {plain(QUESTIONS[session.preset].prompt)}")
    with st.container(key="class_result"):
        if mine is None:
            st.info(plain(f"You did not answer. The answer: {tally.right}."))
        elif mine == tally.right:
            st.success(plain(f"Right! You said {mine}."), icon=":material/celebration:")
        else:
            st.error(plain(f"Not this time: you said {mine}, the answer is {tally.right}."), icon=":material/close:")
    st.markdown(_share_line(tally))


def _setting_widget(setting: Setting, key: str) -> Any:
    label = setting.label
    if setting.many:
        return st.multiselect(label, setting.options, default=setting.default, max_selections=setting.many,
                              key=key)
    return st.selectbox(label, setting.options, index=setting.options.index(setting.default), key=key)


def _practice(room: Classroom, session: ClassSession, student: str) -> None:
    exercise = EXERCISES[session.preset]
    st.divider()
    st.markdown(f"#### {plain(exercise.prompt)}")
    with st.form(f"class_exercise_{session.preset}", border=False):
        chosen = {s.name: _setting_widget(s, f"class_set_{session.preset}_{s.name}") for s in exercise.settings}
        name = st.text_input("Name on the leaderboard (optional)", max_chars=MAX_NAME, key="class_name")
        check = st.form_submit_button("Check it", type="primary", width="stretch")
    if check:
        _check(room, session, student, chosen, name)
    best = next((e for e in room.leaderboard(session.code, session.preset, limit=50)), None)
    if best is not None:
        st.caption(plain(f"The class's best so far: {best.score:.3f}"))


def _check(room: Classroom, session: ClassSession, student: str, chosen: dict, name: str) -> None:
    if not _limit("checks", CHECKS_PER_MINUTE).allow():
        st.warning("That is a lot of checks in a minute: wait a moment and try again.")
        return
    slots = _check_slots()
    if not slots.acquire(timeout=30):
        st.warning("The server is busy checking other answers; try again in a moment.")
        return
    hosted = hosted_limits()
    try:
        with st.spinner("Training…"):
            attempt = check_exercise(EXERCISES[session.preset], chosen, limits=hosted.search_limits(),
                                     max_epochs=hosted.max_playground_epochs if hosted.enabled else None)
        best = room.record_score(session.code, student, session.preset, attempt, name)
    except ClassError as exc:
        st.warning(plain(exc))
        return
    finally:
        slots.release()
    verdict = "beats the goal!" if attempt.beats_goal else f"the goal is {EXERCISES[session.preset].goal:.2f}"
    with st.container(key="class_attempt"):
        (st.success if attempt.beats_goal else st.info)(
            plain(f"{attempt.detail}: {verdict}" + (" Your best so far." if best else "")))


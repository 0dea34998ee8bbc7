"""A student's class page: join with the code on the projector, predict, see the reveal, try it yourself."""

from __future__ import annotations

from dashboard.boundary import error_boundary
from dashboard.classroom import student_view
from dashboard.page import require_app_navigation


@error_boundary
def page() -> None:
    require_app_navigation()
    student_view()


page()

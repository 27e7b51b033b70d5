"""Built-in policy rules. Each reads the teacher's TeacherBookingPolicy from the request."""

from __future__ import annotations

from .engine import BookingRequest, Rule


class ApprovalModeRule(Rule):
    """``approval_mode``: auto, manual, or manual for students with no confirmed booking with this teacher."""

    def requires_approval(self, request: BookingRequest) -> bool:
        from ..models import ApprovalMode, BookingStatus, get_booking_model

        mode = request.policy.approval_mode
        if mode == ApprovalMode.MANUAL:
            return True
        if mode == ApprovalMode.MANUAL_FOR_NEW_STUDENTS:
            known = request.cached(
                "student_known",
                lambda: get_booking_model()
                .objects.filter(student=request.student, teacher_id=request.teacher_id, status=BookingStatus.CONFIRMED)
                .exists(),
            )
            return not known
        return False

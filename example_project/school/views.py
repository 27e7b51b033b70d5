from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .models import Lesson


def home(request: HttpRequest) -> HttpResponse:
    lessons = Lesson.objects.upcoming(timezone.now()).select_related("teacher").order_by("start_at_utc", "pk")
    return render(request, "school/home.html", {"lessons": lessons})

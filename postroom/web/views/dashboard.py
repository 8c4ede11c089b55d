"""The dashboard: what is going on, at a glance."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from postroom.web.permissions import operator_required


@operator_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/dashboard.html", {})

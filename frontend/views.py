from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def project_list(request):
    return render(request, "frontend/project_list.html")


def page_not_found(request, exception=None):
    return render(request, "frontend/404.html", status=404)


# Placeholders until the shell helper lands its pages (it replaces this file).
@login_required
def my_work(request):
    return render(request, "frontend/project_list.html")


notifications = board = members = activity = my_work

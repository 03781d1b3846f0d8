"""Shot page, review player and compare (being built; the review helper replaces this file)."""
from django.contrib.auth.decorators import login_required
from django.http import Http404


@login_required
def shot_page(request, project_id, shot_id):
    raise Http404


@login_required
def review_page(request, project_id, take_id):
    raise Http404


@login_required
def compare_page(request, project_id, take_a, take_b):
    raise Http404

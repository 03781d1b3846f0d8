"""Every model of the domain is in the Django admin, and its pages open."""
import pytest
from django.contrib import admin
from django.urls import reverse

from projects import models as project_models
from renders import models as render_models

DOMAIN_MODELS = [project_models.Project, project_models.Membership, project_models.Sequence, project_models.Shot,
                 project_models.PromptRevision, project_models.Asset, project_models.StylePreset,
                 project_models.Comment, project_models.Event, project_models.Notification,
                 render_models.RenderJob, render_models.Take]


def test_every_domain_model_is_registered():
    assert [m.__name__ for m in DOMAIN_MODELS if m not in admin.site._registry] == []


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda m: m.__name__)
def test_admin_pages_open(world, client, django_user_model, model):
    boss = django_user_model.objects.create_superuser("boss", "boss@example.test", "x")
    project_models.Notification.objects.create(user=world.users["artist"], project=world.project, kind="assigned",
                                               text="SH010 is yours", shot=world.shot)
    client.force_login(boss)
    opts = model._meta
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?q=a")
    assert changelist.status_code == 200
    obj = model.objects.first()
    assert obj is not None
    change = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert change.status_code == 200

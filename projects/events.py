"""The one event path: write the Event row in the change's transaction, publish after commit.

A client that missed a message catches up from the table by ``seq``; progress ticks are the
only messages that are published without a row (``publish_ephemeral``).
"""
import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F

from .models import Event, Project

log = logging.getLogger(__name__)


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def actor_summary(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": user.get_full_name() or user.username}


def event_message(event: Event) -> dict:
    """The wire form of an event, as sockets and ``GET .../events/`` both send it."""
    return {
        "seq": event.seq,
        "type": event.type,
        "project": event.project_id,
        "at": event.created_at.isoformat(),
        "actor": actor_summary(event.actor) if event.actor_id else None,
        "data": event.data,
    }


def to_json(payload) -> str:
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def record_event(project: Project | int, type: str, actor=None, data: dict | None = None) -> Event:
    """Append an event with the project's next ``seq`` and publish it once committed.

    The counter row stays locked until the surrounding transaction ends, so concurrent
    writers get consecutive numbers and a rolled-back change leaves no gap.
    """
    project_id = project.pk if isinstance(project, Project) else project
    payload = json.loads(to_json(data or {}))
    with transaction.atomic():
        Project.objects.filter(pk=project_id).update(last_event_seq=F("last_event_seq") + 1)
        seq = Project.objects.filter(pk=project_id).values_list("last_event_seq", flat=True).get()
        event = Event.objects.create(project_id=project_id, seq=seq, type=type, actor=actor, data=payload)
    transaction.on_commit(lambda: publish_event(event))
    return event


def publish_event(event: Event) -> None:
    _group_send(project_group(event.project_id), to_json(event_message(event)))


def publish_ephemeral(project_id: int, type: str, data: dict, actor=None) -> None:
    """A message with no ``seq``: progress ticks and presence, never stored."""
    from django.utils import timezone

    message = {
        "type": type,
        "project": project_id,
        "at": timezone.now().isoformat(),
        "actor": actor_summary(actor),
        "data": data,
    }
    _group_send(project_group(project_id), to_json(message))


def publish_to_user(user_id: int, type: str, data: dict) -> None:
    _group_send(user_group(user_id), to_json({"type": type, "data": data}))


def _group_send(group: str, text: str) -> None:
    """Serialised once here; consumers forward ``text`` untouched.

    Publishing is best effort: if Redis is away the row is already committed and clients
    catch up by ``seq`` when they reconnect.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "studio.message", "text": text})
    except Exception:  # noqa: BLE001 - the channel layer may be down; the DB has the event
        log.warning("could not publish to %s; clients will catch up from the event log", group, exc_info=True)

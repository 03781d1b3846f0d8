"""One WebSocket per open project page: catch-up from the event log, then live events."""
import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from projects.events import event_message, project_group, to_json, user_group
from projects.models import Event, Membership


@database_sync_to_async
def is_member(user, project_id) -> bool:
    if not user or not user.is_authenticated:
        return False
    return Membership.objects.filter(project_id=project_id, user=user).exists()


@database_sync_to_async
def events_after(project_id: int, after: int, limit: int = 500) -> list[str]:
    events = Event.objects.filter(project_id=project_id, seq__gt=after).select_related("actor").order_by("seq")[:limit]
    return [to_json(event_message(event)) for event in events]


class ProjectConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.project_id = self.scope["url_route"]["kwargs"]["project_id"]
        self.user = self.scope.get("user")
        if not await is_member(self.user, self.project_id):
            await self.close()
            return
        self.group = project_group(self.project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode())
        after = int(query.get("after", ["0"])[0] or 0)
        for text in await events_after(self.project_id, after):
            await self.send(text_data=text)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            json.loads(text_data or "{}")
        except ValueError:
            return

    async def studio_message(self, message):
        await self.send(text_data=message["text"])

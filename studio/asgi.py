"""ASGI entry point: HTTP through Django, WebSockets through Channels under /ws/."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from renders.auth import TokenOrSessionAuthMiddlewareStack  # noqa: E402
from renders.routing import websocket_urlpatterns  # noqa: E402



class BrowserOriginValidator(OriginValidator):
    """ALLOWED_HOSTS for browsers; scripts (which send no Origin) may connect with ``?token=``.

    Browsers always send Origin on a WebSocket handshake, so a missing one is a script, which
    cannot ride anyone's session cookie: that is what origin checking is there to stop.
    """

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def origin_validator(inner):
    hosts = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    return BrowserOriginValidator(inner, hosts)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": origin_validator(
            TokenOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

from rest_framework import status
from rest_framework.exceptions import APIException


class Conflict(APIException):
    """409: somebody changed the object first. Carries the current state so nothing typed is lost."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, detail: str, current: dict | None = None):
        payload = {"detail": detail}
        if current is not None:
            payload["current"] = current
        super().__init__(detail)
        self.detail = payload

"""API-wide pieces: pagination and error shape shared by every endpoint."""
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler


class StudioPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def _first_message(detail, path=""):
    """The first human message in a nested DRF error structure, prefixed with its field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                key = ""
            found = _first_message(value, f"{path}.{key}" if path and key else (key or path))
            if found:
                return found
    elif isinstance(detail, list):
        for item in detail:
            found = _first_message(item, path)
            if found:
                return found
    elif detail:
        return f"{path}: {detail}" if path else str(detail)
    return ""


def exception_handler(exc, context):
    """Every error is JSON with a readable ``detail``; 400s keep their field errors beside it."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError) and response.status_code == status.HTTP_400_BAD_REQUEST:
        data = response.data
        if isinstance(data, list):
            data = {"non_field_errors": data}
        if "detail" not in data:
            data = {"detail": _first_message(data) or "Invalid input.", **data}
        response.data = data
    return response

"""/api/health: what listmonk's clients call first; 200 when the API can answer."""

from django.db import DatabaseError, connection
from django.http import HttpRequest
from ninja import Router, Schema, Status

from postroom.api.errors import errors

router = Router(tags=["health"])


class HealthOut(Schema):
    data: bool  # listmonk's shape: `{"data": true}`


@router.get("", auth=None, response={200: HealthOut, **errors(503)})
def health(request: HttpRequest):
    """Public and says nothing but yes or no (the detailed report is `/health`)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return Status(503, {"detail": "the database cannot be reached"})
    return {"data": True}

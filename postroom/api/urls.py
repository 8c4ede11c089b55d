"""REST API routes (django-ninja); filled by the api app."""

urlpatterns: list = []

"""The API takes exactly what its published schema calls well formed, no more and no less
(the schema fuzzer's positive and negative checks, one case each, fast)."""

from django.core.files.uploadedfile import SimpleUploadedFile

from postroom.audience.models import MailingList, Subscriber
from postroom.imports.models import Import
from postroom.integers import ID_MAX
from tests.api.conftest import refused

TOO_BIG = ID_MAX * 4


def schema(api) -> dict:
    return api.get("/api/openapi.json").json()


def test_a_body_is_read_as_strictly_as_its_schema_is_written(api):
    zero_for_false = api.post("/api/lists", {"name": "news", "public": 0})
    text_for_a_number = api.post(
        "/api/campaigns", {"name": "C", "subject": "S", "body": "B", "priority": "5"}
    )

    assert refused(zero_for_false, 422).startswith("public:")
    assert refused(text_for_a_number, 422).startswith("priority:")
    assert not MailingList.objects.exists()


def test_a_whole_number_may_be_written_with_a_point(api):
    api.post("/api/lists", {"name": "news"})

    made = api.post(
        "/api/campaigns",
        {"name": "C", "subject": "S", "body": "B", "lists": ["news"], "priority": 51.0},
    )
    halves = api.patch(f"/api/campaigns/{made.json()['id']}", {"priority": 51.5})

    assert made.status_code == 201, made.content
    assert made.json()["priority"] == 51
    refused(halves, 422)


def test_a_day_in_a_query_is_year_month_day_and_nothing_else(api):
    assert api.get("/api/bounces", {"until": "2024-01-31"}).status_code == 200
    assert refused(api.get("/api/bounces", {"until": "0"}), 422).startswith("query.until")
    refused(api.get("/api/bounces", {"since": "2024-01-31T10:00:00"}), 422)


def test_an_id_beyond_the_databases_integers_is_refused_not_a_server_error(api):
    bulk = api.post("/api/subscribers/bulk", {"action": "delete", "ids": [TOO_BIG]})
    bounces = api.get("/api/bounces", {"sender": TOO_BIG})
    tx = api.post("/api/tx", {"subscriber_id": TOO_BIG, "subject": "S", "body": "B"})

    assert refused(bulk, 422).startswith("ids.0:")
    refused(bounces, 422)
    assert refused(tx, 422).startswith("subscriber_id:")


def test_a_form_field_with_a_key_the_domain_does_not_know_is_refused(api):
    unknown = api.post(
        "/api/lists", {"name": "news", "form_fields": [{"name": "city", "colour": "red"}]}
    )
    known = api.post(
        "/api/lists", {"name": "news", "form_fields": [{"name": "city", "required": True}]}
    )
    published = schema(api)["components"]["schemas"]["FormFieldIn"]

    assert refused(unknown, 422).startswith("form_fields.0.colour:")
    assert known.status_code == 201, known.content
    assert known.json()["form_fields"][0]["required"] is True
    assert published["additionalProperties"] is False
    assert published["properties"]["type"]["enum"] == [
        "text",
        "number",
        "checkbox",
        "choice",
        "date",
    ]


def test_a_webhook_event_outside_the_catalogue_is_refused_and_the_schema_lists_them(api):
    answer = api.post(
        "/api/webhooks", {"name": "w", "url": "https://x.example/h", "events": ["cake.eaten"]}
    )
    events = schema(api)["components"]["schemas"]["EndpointIn"]["properties"]["events"]

    assert "unknown event 'cake.eaten'" in refused(answer, 422)
    assert "subscriber.created" in events["items"]["enum"]


def test_the_schema_writes_every_bound_as_openapi_reads_it_and_no_null_in_a_form(api):
    published = schema(api)
    raw = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            raw.extend(f"{where}/{key}" for key in ("ge", "le", "gt", "lt") if key in node)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(published, "")
    upload = published["paths"]["/api/imports"]["post"]["requestBody"]["content"]
    status = upload["multipart/form-data"]["schema"]["properties"]["status"]

    assert raw == []
    assert "anyOf" not in status and "subscribed" in status["enum"]


def test_text_with_a_nul_character_is_refused_wherever_the_request_carries_it(api, client):
    """Found by the schema fuzzer on PostgreSQL, which can neither store nor compare U+0000:
    a query, a form, a path and the bodies two routes read themselves all say so."""
    news = api.post("/api/lists", {"name": "news", "public": True}).json()
    nul = "a\u0000b"
    import_form = api.client.post(
        "/api/imports",
        {"file": SimpleUploadedFile("p.csv", b"email\nada@example.com\n"), "lists": [nul]},
    )
    answers = [
        api.get("/api/subscribers", {"q": nul}),
        import_form,
        api.post("/api/tx", {"to": "ada@example.com", "subject": nul, "body": "B"}),
        client.post(
            "/api/public/subscription",
            {"email": "ada@example.com", "name": nul, "lists": [news["uuid"]]},
            content_type="application/json",
        ),
    ]

    assert all("NUL" in refused(answer, 400) for answer in answers)
    assert refused(api.get("/api/senders/a%00b"), 422).startswith("path.sender:")
    assert not Subscriber.objects.exists() and not Import.objects.exists()

"""Lists get a stable public uuid (each existing list its own), allowed origins, a captcha
switch and custom form fields."""

import uuid

from django.db import migrations, models


def give_each_list_a_uuid(apps, schema_editor):
    MailingList = apps.get_model("audience", "MailingList")
    for mailing_list in MailingList.objects.filter(uuid__isnull=True).only("pk"):
        MailingList.objects.filter(pk=mailing_list.pk).update(uuid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("audience", "0001_initial")]

    operations = [
        # Nullable first: a default on a new unique column would give every row the same value.
        migrations.AddField(
            model_name="mailinglist", name="uuid", field=models.UUIDField(null=True)
        ),
        migrations.RunPython(give_each_list_a_uuid, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="mailinglist",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="mailinglist",
            name="allowed_origins",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="mailinglist", name="captcha", field=models.BooleanField(default=False)
        ),
        migrations.AddField(
            model_name="mailinglist",
            name="form_fields",
            field=models.JSONField(blank=True, default=list),
        ),
    ]

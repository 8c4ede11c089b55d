"""Campaigns get their own auto-pause threshold (it used to be a sender setting)."""

from django.db import migrations, models


def copy_from_senders(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Sender = apps.get_model("delivery", "Sender")
    for sender in Sender.objects.all():
        Campaign.objects.filter(sender_id=sender.pk).update(
            error_threshold_percent=sender.error_threshold_percent,
            error_window=sender.error_window,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("delivery", "0005_ledger_cheaper_to_build"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="error_threshold_percent",
            field=models.PositiveSmallIntegerField(
                default=20,
                help_text="pause when more than this share of recent recipients fail for good",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="error_window",
            field=models.PositiveIntegerField(
                default=200, help_text="how many recent recipients that share counts"
            ),
        ),
        migrations.RunPython(copy_from_senders, migrations.RunPython.noop),
    ]

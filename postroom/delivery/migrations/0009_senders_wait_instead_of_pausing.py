"""A sender that cannot be reached makes its campaigns wait: no more sender pause settings.

The error threshold moved to the campaign (campaigns 0002 copied it there); a
probe lease lets one worker at a time try a waiting sender; retry age counts
from a row's first deferral.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0008_queued_messages_for_test_sends"),
        ("campaigns", "0002_campaign_error_threshold"),
    ]

    operations = [
        migrations.RemoveField(model_name="sender", name="pause_after_failures"),
        migrations.RemoveField(model_name="sender", name="pause_after_minutes"),
        migrations.RemoveField(model_name="sender", name="error_threshold_percent"),
        migrations.RemoveField(model_name="sender", name="error_window"),
        migrations.AddField(
            model_name="sender",
            name="probing_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="deferred_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]

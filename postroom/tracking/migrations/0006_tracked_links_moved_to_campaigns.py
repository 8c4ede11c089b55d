"""TrackedLink now lives in campaigns (campaigns 0004); the table is unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0005_signup_requests_counts_and_used_challenges"),
        ("campaigns", "0004_tracked_links_belong_to_campaigns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="engagementevent",
                    name="link",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="campaigns.trackedlink",
                    ),
                ),
                migrations.DeleteModel(name="TrackedLink"),
            ],
            database_operations=[],
        ),
    ]

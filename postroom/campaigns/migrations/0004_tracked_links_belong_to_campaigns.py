"""TrackedLink moves from tracking to campaigns; its table stays where it is.

Compiling a campaign numbers its links, and campaigns may not import tracking
(a later layer). Only Django's model state moves: no table is renamed or copied.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_campaign_kind_newsletter_or_transactional"),
        ("tracking", "0005_signup_requests_counts_and_used_challenges"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TrackedLink",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("number", models.PositiveIntegerField()),
                        ("url", models.CharField(max_length=2000)),
                        (
                            "campaign",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="tracked_links",
                                to="campaigns.campaign",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tracking_trackedlink",
                        "ordering": ["campaign", "number"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("campaign", "number"), name="tracked_link_number"
                            ),
                            models.UniqueConstraint(
                                fields=("campaign", "url"), name="tracked_link_url"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]

# The fair-share state becomes one row per campaign and sender (a campaign may send
# through a pool of senders). It is only scheduling memory: dropping it makes the
# running campaigns join each sender's clock afresh, which is what a new row does.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("delivery", "0012_senders_keep_a_sealed_password"),
    ]

    operations = [
        migrations.DeleteModel(name="CampaignShare"),
        migrations.CreateModel(
            name="CampaignShare",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("queue", models.CharField(max_length=64)),
                ("pass_value", models.FloatField(default=0.0)),
                ("pool_pass", models.FloatField(default=0.0)),
                ("granted", models.BigIntegerField(default=0)),
                ("last_granted_at", models.FloatField(blank=True, null=True)),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="shares",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("campaign", "queue"), name="share_per_queue")
                ],
            },
        ),
    ]

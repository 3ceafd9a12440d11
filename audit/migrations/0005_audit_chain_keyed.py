"""Keyed audit chain (v2). Existing rows are not re-chained: they keep chain_version 1 and their unkeyed hash,
and the first keyed event MACs the last of them as its prev_hash (audit/chain.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_checklist_decisionproposal_stepattachment_and_more")]

    operations = [
        migrations.AddField(
            model_name="auditchainhead",
            name="chain_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="auditchainhead",
            name="head_hash",
            field=models.CharField(max_length=160),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(max_length=160, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(max_length=160),
        ),
    ]

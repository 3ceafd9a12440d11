"""Adds the delivery permissions to the roles (audit.roles stays the one source)."""

from django.db import migrations


def sync(apps, schema_editor):
    from audit.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("oemconsole", "0002_licensing_roles"), ("delivery", "0001_initial")]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]

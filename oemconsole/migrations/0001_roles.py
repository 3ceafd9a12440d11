"""Creates the six role groups with their model permissions (audit.roles is the one source)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from audit.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0002_audit_chain_head"),
        ("jobs", "0001_initial"),
        ("risklab", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]

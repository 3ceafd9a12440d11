from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_deployment_local_evidence_dir")]

    operations = [migrations.RemoveField(model_name="deployment", name="evidence_subdir")]

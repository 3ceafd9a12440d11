"""Evidence directories are derived from the deployment id; the editable `evidence_subdir` goes.

Existing rows keep their evidence where it is: a blank subdir was the data directory itself (`local`),
`deployments/<id>` is exactly what the code now derives. Any other value was edited by hand (possibly to an
absolute or `..` path); the migration stops with the names of those deployments instead of silently
pointing them elsewhere, so an operator moves their evidence under `deployments/<id>/` first."""

from pathlib import PurePosixPath

from django.db import migrations, models


def _derived(subdir: str, pk: int) -> bool:
    return PurePosixPath(subdir.strip()) == PurePosixPath("deployments") / str(pk)


def forwards(apps, schema_editor):
    deployment_model = apps.get_model("audit", "Deployment")
    edited = []
    for deployment in deployment_model.objects.all().only("pk", "name", "evidence_subdir"):
        subdir = deployment.evidence_subdir or ""
        if not subdir.strip():
            deployment_model.objects.filter(pk=deployment.pk).update(local=True)
        elif not _derived(subdir, deployment.pk):
            edited.append(f"{deployment.name} (id {deployment.pk}: {subdir!r})")
    if edited:
        raise RuntimeError(
            "evidence directories edited by hand, move them to deployments/<id>/ and clear the field: "
            + ", ".join(edited)
        )


def backwards(apps, schema_editor):
    deployment_model = apps.get_model("audit", "Deployment")
    for deployment in deployment_model.objects.filter(local=False).only("pk"):
        deployment_model.objects.filter(pk=deployment.pk).update(evidence_subdir=f"deployments/{deployment.pk}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_audit_chain_keyed")]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="local",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(forwards, backwards),
    ]

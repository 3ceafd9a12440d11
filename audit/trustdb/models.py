from django.db import models


class InstallationPin(models.Model):
    """The installation's root fingerprint, pinned by the setup step (init_installation, seed_demo) and
    re-pinned only by restore_installation. A key ring whose root differs is refused."""

    installation_id = models.CharField(max_length=100, unique=True)
    root_fingerprint = models.CharField(max_length=120)
    pinned_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.installation_id} {self.root_fingerprint[:23]}..."


class WitnessMark(models.Model):
    """Highest (seq, head) seen of one growing signed file (audit.trust.witness); only ever advanced,
    except by the journaled witness reset of restore_installation."""

    key = models.CharField(max_length=300, unique=True)
    seq = models.PositiveBigIntegerField()
    head = models.CharField(max_length=200)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key} @ {self.seq}"

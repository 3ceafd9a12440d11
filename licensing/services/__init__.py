"""Licensing writes: customers, request upload, approval (issue), rejection, revocation, reconcile.

One module per section: `store` (where things live), `customers`, `requests` (upload, reject), `licenses`
(approve = issue, revoke) and `registry` (the mirror's reconcile). Each write asks `authorize(actor, ...)`
first (the rules are in licensing/rules.py), so a refusal of the actor writes nothing either.

The signed registry `OEM_DATA_DIR/licenses/registry.jsonl` is the truth; every write goes through
licensing.core (load_request, load_vendor_signer, Registry, write_crl), never around it. Order of effects and
what a failure leaves behind:

1. Everything is validated first (arguments, stored request bytes, vendor key, production vs development
   key): a refusal writes nothing anywhere.
2. The registry append is the commit point. It runs inside the database transaction; if it fails (policy,
   broken registry, untrusted key) the transaction rolls back and nothing was written.
3. After the append: the license file (or the CRL), the database rows and the audit event. If any of these
   fails, the database transaction rolls back but the registry already holds the entry; `LicenseMirrorError`
   says so and `license_registry_reconcile` (registry page "Reconcile"; `manage.py reconcile_licenses` runs
   `registry_mirror_reconcile`)
   imports what the registry has and the console lacks, rewrites missing license files from the registry's
   copy of the signed document and rebuilds a CRL that does not list exactly the registry's revoked serials.

The data directory is `audit.trust.paths.data_dir()` (the OEM_DATA_DIR the settings export), the same one the
pure CLIs use, so console and command line share one registry.
"""

from ..errors import ForeignRequestError, LicenseMirrorError, LicensingError
from .customers import customer_assign_admin, customer_create
from .licenses import license_issue, license_revoke
from .registry import ReconcileReport, license_registry_reconcile, mirror_fields, registry_mirror_reconcile
from .requests import license_request_reject, license_request_upload
from .store import (
    allow_development_keys,
    data_dir,
    issued_dir,
    issued_path,
    keyring,
    registry,
    vendor_signer,
)

__all__ = [
    "ForeignRequestError",
    "LicenseMirrorError",
    "LicensingError",
    "ReconcileReport",
    "allow_development_keys",
    "customer_assign_admin",
    "customer_create",
    "data_dir",
    "issued_dir",
    "issued_path",
    "keyring",
    "license_issue",
    "license_registry_reconcile",
    "license_request_reject",
    "license_request_upload",
    "license_revoke",
    "mirror_fields",
    "registry",
    "registry_mirror_reconcile",
    "vendor_signer",
]

"""Licensing refusals, members of the one `audit.errors` family: the API handler and the pages answer them
with their own status and code, so no view maps them by hand."""

from audit.errors import Invalid


class LicensingError(Invalid, ValueError):
    """A licensing write was refused; nothing was written. One-line message (400)."""


class ForeignRequestError(LicensingError):
    """The request comes from another installation: the admin must confirm its digest first. The API body
    carries `foreign` and the `request_digest` to compare with the device."""

    code = "foreign_request"

    def __init__(self, digest: str):
        self.digest = digest
        super().__init__(
            f"request comes from another installation (its fingerprint key is not on this key ring): "
            f"confirm digest {digest} with the device, then accept it as a foreign request",
            foreign=True,
            request_digest=digest,
        )


class LicenseMirrorError(LicensingError):
    """The registry holds the entry but the console could not mirror it; reconcile repairs that. A server
    fault, not the caller's: 500, as it always was."""

    status = 500
    code = "mirror_failed"

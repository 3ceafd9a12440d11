"""Verifier of the `license_registry` evidence kind: the vendor-signed license registry verifies line by
line and against its signed checkpoint, and holds a live license that allows the live stage, is valid at the
decision's time and is pinned to this installation's trust root (a registry of another installation proves
nothing here). Pure (no Django); loaded by name by audit.trust.evidence.
"""

from __future__ import annotations

from audit.trust.evidence import ArtefactInput, EvidenceContext, register_verifier
from licensing.core.pin import TrustRootPin, check_pin
from licensing.core.registry import LIVE, Registry, RegistryError


def verify_license_registry(artefact: ArtefactInput, ctx: EvidenceContext) -> list[str]:
    if artefact.path is None or not artefact.data:
        return ["the license registry is empty"]
    try:
        # the artefact is an archived copy: its witness lives with the vendor's registry, not here
        state = Registry(artefact.path, witness=False).read_state()
    except RegistryError as exc:
        return [str(exc)]
    if state.seq == 0:
        return ["the license registry is empty"]
    now = ctx.decided_at()
    usable = [
        s
        for s in state.licenses.values()
        if s.status == LIVE
        and "live" in s.license.stages
        and s.license.not_before <= now < s.license.expires_at
    ]
    if not usable:
        return ["lists no live license that allows the live stage and is valid now"]
    installation = getattr(ctx.keyring, "installation", None)
    actual = None
    if installation is not None:
        actual = TrustRootPin(installation.installation_id, installation.root_fingerprint)
    refusals = [check_pin(s.license.trust_root, actual) for s in usable]
    if all(refusals):
        return [f"no live license for this installation: {refusals[0]}"]
    return []


register_verifier("license_registry", verify_license_registry)

"""Verifier of the `license_registry` evidence kind: the vendor-signed license registry verifies line by
line and against its signed checkpoint, and holds a live license that allows the live stage and is valid
now. Pure (no Django); loaded by name by audit.trust.evidence.
"""

from __future__ import annotations

from audit.trust.evidence import ArtefactInput, EvidenceContext, register_verifier
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
    return []


register_verifier("license_registry", verify_license_registry)

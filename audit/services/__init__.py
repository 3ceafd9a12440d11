"""Writes of the audit app. Every write records its audit event in the same transaction."""

from .checklists import SignatureRefused, checklist_attach, checklist_open, step_sign
from .decisions import decision_log_reconcile
from .deployments import deployment_assign_user, deployment_create, deployment_unassign_user
from .gate_decisions import checklist_export, decision_propose, decision_sign
from .keys import signer_key_create
from .signing_lockout import signing_failure_record, signing_locked, signing_success_record
from .trail import audit_event_record, audit_trail_problems, stored_event_body

__all__ = [
    "SignatureRefused",
    "checklist_attach",
    "checklist_export",
    "checklist_open",
    "decision_propose",
    "decision_sign",
    "step_sign",
    "audit_event_record",
    "audit_trail_problems",
    "decision_log_reconcile",
    "deployment_assign_user",
    "deployment_create",
    "deployment_unassign_user",
    "signer_key_create",
    "signing_failure_record",
    "signing_locked",
    "signing_success_record",
    "stored_event_body",
]

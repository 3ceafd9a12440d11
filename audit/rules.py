"""Who may act on checklists and gate decisions: one rule per action, asked first by the service that acts.

A checklist belongs to a deployment: when the service passes the deployment, a deployment the actor may not
see is a 404 (the same answer as one that does not exist), before any role is looked at. Unknown checklists
and steps are 404 too. Everything the state of a checklist or a proposal decides (already signed, evidence
missing, wrong password) is the service's business, after the rule allowed the actor.
"""

from .authorization import has_role, is_admin, rule
from .errors import NotFound
from .roles import COMPLIANCE, ENGINEER, PRODUCT_OWNER, roles_of
from .runbooks.model import RunbookError
from .runbooks.model import checklist as checklist_definition
from .selectors import deployment_list_visible
from .trust.decision_rules import STATUS_RULES
from .trust.keyring import GROUP_TO_SIGNER_ROLE

PROPOSER_ROLES = (COMPLIANCE, PRODUCT_OWNER)
EXPORTER_ROLES = (COMPLIANCE, ENGINEER, PRODUCT_OWNER)


def _visible(actor, deployment) -> None:
    if deployment is not None and not deployment_list_visible(user=actor).filter(pk=deployment.pk).exists():
        raise NotFound("no such deployment")


def _definition(checklist_id: str):
    try:
        return checklist_definition(checklist_id)
    except (KeyError, RunbookError):
        raise NotFound("no such checklist") from None


def _step(checklist_id: str, step_id: str):
    try:
        return _definition(checklist_id).step(step_id)
    except KeyError:
        raise NotFound(f"no step {step_id}") from None


@rule("checklist.open", who="the roles responsible for one of its steps, and admins")
def may_open_checklist(actor, *, checklist_id: str, deployment=None) -> str | None:
    _visible(actor, deployment)
    responsible = {step.responsible for step in _definition(checklist_id).steps}
    if is_admin(actor) or responsible & set(roles_of(actor)):
        return None
    return "your role works on no step of this checklist"


@rule("checklist.attach", who="the step's responsible role, and admins (who attach but do not sign)")
def may_attach_evidence(actor, *, checklist_id: str, step_id: str, deployment=None) -> str | None:
    _visible(actor, deployment)
    step = _step(checklist_id, step_id)
    if has_role(actor, step.responsible) or is_admin(actor):
        return None
    return f"only the {step.responsible} role attaches evidence to this step"


@rule("checklist.sign", who="the step's responsible role only (an admin does not sign for them)")
def may_sign_step(actor, *, checklist_id: str, step_id: str, deployment=None) -> str | None:
    _visible(actor, deployment)
    step = _step(checklist_id, step_id)
    if has_role(actor, step.responsible):
        return None
    return f"this step is signed by the {step.responsible} role"


@rule("checklist.export", who="admin, compliance, engineer and product owner (auditors and operators do not)")
def may_export_checklist(actor, *, checklist=None) -> str | None:
    if checklist is not None:
        _visible(actor, checklist.deployment)
    if is_admin(actor) or has_role(actor, *EXPORTER_ROLES):
        return None
    return "your role does not export checklists"


@rule("gate.propose", who="compliance and the product owner")
def may_propose_decision(actor, *, deployment=None) -> str | None:
    _visible(actor, deployment)
    if has_role(actor, *PROPOSER_ROLES):
        return None
    return "only compliance or the product owner propose a gate decision"


@rule("gate.sign", who="a person holding one of the signer roles the proposed status requires")
def may_sign_decision(actor, *, proposal) -> str | None:
    _visible(actor, proposal.deployment)
    required = STATUS_RULES[proposal.entry["status"]].signer_roles
    candidates = {GROUP_TO_SIGNER_ROLE[g] for g in roles_of(actor) if g in GROUP_TO_SIGNER_ROLE}
    if set(required) & candidates:
        return None
    return f"this decision is signed by {' and '.join(required)}; your roles cannot sign it"


@rule("audit_trail.read", who="auditors, compliance and admins (the console page and the events API)")
def may_read_audit_trail(actor) -> str | None:
    if actor.has_perm("audit.view_auditevent"):
        return None
    return "the audit trail is for auditors, compliance and admins"


@rule("audit_trail.export", who="those who read the audit trail: auditors, compliance and admins")
def may_export_audit_trail(actor) -> str | None:
    # The export is recorded as an event of its own, so it is an action, not only a read.
    if actor.has_perm("audit.view_auditevent"):
        return None
    return "the audit trail is for auditors, compliance and admins"


@rule(
    "deployment.create",
    who="admins (the console's admin site); the installation's own commands act as the system",
)
def deployment_create(actor) -> str | None:
    return None if actor.has_perm("audit.add_deployment") else "your role may not create deployments"


@rule("deployment.assign", who="admins: who may see a deployment is an admin's decision")
def deployment_assign(actor, deployment) -> str | None:
    return (
        None
        if actor.has_perm("audit.change_deployment")
        else "your role may not change who sees a deployment"
    )

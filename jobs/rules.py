"""Who may start, cancel and use jobs. Other apps' job-starting actions (a lab, a bundle build, a runbook
step) have their own rules in their apps; `job_create` itself is the building block they call after them."""

from audit.authorization import rule


@rule("job.hash_artefact", who="admin, compliance, engineer, product owner (jobs.add_job)")
def hash_artefact(actor) -> str | None:
    if not actor.has_perm("jobs.add_job"):
        return "your role may not start jobs"
    return None


@rule("job.cancel", who="the job's creator, or admin (jobs.change_job)")
def cancel(actor, job) -> str | None:
    if job.created_by_id != actor.pk and not actor.has_perm("jobs.change_job"):
        return "only the job's creator or an admin may cancel it"
    return None


@rule("job.audit_trail_check", who="admin, compliance (jobs.add_job and audit.view_auditevent)")
def audit_trail_check(actor) -> str | None:
    if not (actor.has_perm("jobs.add_job") and actor.has_perm("audit.view_auditevent")):
        return "your role may not re-check the audit trail"
    return None

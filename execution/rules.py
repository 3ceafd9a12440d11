"""Who may start the runbook steps that run the real daemon from the console (smoke demo, live dry run).
The offline commands (certificates, tokens, bundles) act on the operator's own files, not through the
console, so they have no rule here: whoever runs them already holds the keys."""

from audit.authorization import rule


@rule("runbook_job.start", who="admin, compliance, engineer, product owner (jobs.add_job)")
def runbook_job_start(actor, deployment=None) -> str | None:
    if not actor.has_perm("jobs.add_job"):
        return "your role may not start jobs"
    return None

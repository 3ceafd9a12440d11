"""Who may change Paper Labs: register market data, start a lab. Attaching a report to a checklist is the
audit app's `checklist.attach` (the same rule as any other evidence of that step)."""

from audit.authorization import rule


@rule("dataset.register", who="admin, engineer (risklab.add_dataset)")
def dataset_register(actor) -> str | None:
    if not actor.has_perm("risklab.add_dataset"):
        return "your role may not register Paper Labs datasets"
    return None


@rule("lab_run.start", who="admin, compliance, engineer (risklab.add_labrun)")
def lab_run_start(actor) -> str | None:
    if not actor.has_perm("risklab.add_labrun"):
        return "your role may not start Paper Labs runs"
    return None

"""Who may do what with bundles: one rule per action (audit.authorization). Bundles are the vendor's, so a
role sees all of them or none; the rules read the role's model permissions (audit.roles.ROLE_PERMISSIONS)."""

from audit.authorization import rule

VIEW_PERMISSION = "delivery.view_bundlebuild"
BUILD_PERMISSION = "delivery.add_bundlebuild"
ACCEPT_PERMISSION = "delivery.change_bundlebuild"


@rule("bundle.view", who="an admin, an engineer or an auditor")
def bundle_view(actor) -> str | None:
    if not actor.has_perm(VIEW_PERMISSION):
        return "your role may not see bundles"
    return None


@rule("bundle.build", who="an admin")
def bundle_build(actor) -> str | None:
    if not actor.has_perm(BUILD_PERMISSION):
        return "your role may not build bundles"
    return None


@rule("bundle.register", who="an admin")
def bundle_register(actor) -> str | None:
    if not actor.has_perm(BUILD_PERMISSION):
        return "your role may not register bundles"
    return None


@rule("bundle.accept", who="an admin or an engineer")
def bundle_accept(actor, build=None) -> str | None:
    if not actor.has_perm(ACCEPT_PERMISSION):
        return "your role may not run the OEM acceptance"
    return None


@rule(
    "bundle.attach",
    who="a role that sees bundles, to the steps it is responsible for on a deployment it is assigned to",
)
def bundle_attach(actor, build=None) -> str | None:
    if not actor.has_perm(VIEW_PERMISSION):
        return "your role may not use bundles as evidence"
    return None

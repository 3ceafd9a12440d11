"""The six roles of Core OEM and their model permissions. Object access (which deployment) is separate:
it is granted per deployment with guardian, never through a role."""

ADMIN = "admin"
COMPLIANCE = "compliance"
ENGINEER = "engineer"
PRODUCT_OWNER = "product_owner"
OPERATOR = "operator"
AUDITOR = "auditor"

ROLES = (ADMIN, COMPLIANCE, ENGINEER, PRODUCT_OWNER, OPERATOR, AUDITOR)

ROLE_DESCRIPTIONS = {
    ADMIN: "provisions licenses, certificates and bundles; manages users and deployments",
    COMPLIANCE: "signs checklists and gate decisions as the compliance officer",
    ENGINEER: "produces and signs the technical evidence (smoke runs, config hashes, dry-runs)",
    PRODUCT_OWNER: "signs checklists and gate decisions as the product owner",
    OPERATOR: "trades through the desktop client; sees only assigned deployments",
    AUDITOR: "reads every deployment, job and audit event; changes nothing",
}

# "app_label.codename". Global view_deployment means "every deployment": only admin and auditor have it.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    ADMIN: (
        "audit.add_deployment",
        "audit.change_deployment",
        "audit.view_deployment",
        "audit.view_auditevent",
        "jobs.add_job",
        "jobs.change_job",
        "jobs.view_job",
        "auth.view_user",
        "risklab.add_dataset",
        "risklab.add_labrun",
        "risklab.view_labrun",
        # Licensing: no model-level view: an admin sees only the customers they manage (guardian).
        "licensing.add_customer",
        "licensing.change_customer",
        "licensing.add_licenserequest",
        "licensing.change_licenserequest",
        "licensing.add_license",
        "licensing.change_license",
        # Bundles: build and register (add), run the acceptance (change), see them (view).
        "delivery.add_bundlebuild",
        "delivery.change_bundlebuild",
        "delivery.view_bundlebuild",
    ),
    COMPLIANCE: ("audit.view_auditevent", "jobs.add_job", "risklab.add_labrun"),
    ENGINEER: (
        "jobs.add_job",
        "risklab.add_dataset",
        "risklab.add_labrun",
        "delivery.change_bundlebuild",
        "delivery.view_bundlebuild",
    ),
    PRODUCT_OWNER: ("jobs.add_job",),
    OPERATOR: (),
    AUDITOR: (
        "audit.view_deployment",
        "audit.view_auditevent",
        "jobs.view_job",
        "risklab.view_labrun",
        "licensing.view_customer",
        "licensing.view_device",
        "licensing.view_licenserequest",
        "licensing.view_license",
        "delivery.view_bundlebuild",
    ),
}


def sync_roles(apps) -> None:
    """Create the groups and set exactly the declared permissions. Used by migrations (with historical
    models) and by seed_demo; safe to run any number of times."""
    from django.contrib.auth.management import create_permissions
    from django.db.migrations.state import AppConfigStub

    for app_config in apps.get_app_configs():
        if isinstance(app_config, AppConfigStub):
            # Inside a migration permissions do not exist yet (they are made after migrate); a historical
            # app config needs models_module set before create_permissions will look at it.
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def roles_of(user) -> list[str]:
    """The user's console roles, read once per user object, as Django caches a user's permissions on the
    object: a page asking a rule per checklist step costs one query, not one per question."""
    if not user.is_authenticated:
        return []
    cached = getattr(user, "_oem_roles_cache", None)
    if cached is None:
        cached = tuple(sorted(name for name in user.groups.values_list("name", flat=True) if name in ROLES))
        user._oem_roles_cache = cached
    return list(cached)

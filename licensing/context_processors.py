from licensing.core.devkeys import DEV_SWITCH_ENV, development_licenses_allowed


def development_licenses(request):
    """Every page says so when development license keys are accepted (the demo switch is on)."""
    try:
        allowed = development_licenses_allowed()
    except ValueError:
        allowed = False  # a malformed or production-refused switch accepts nothing
    return {"development_licenses_banner": DEV_SWITCH_ENV if allowed else ""}

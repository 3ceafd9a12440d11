"""Passthrough to a pure licensing CLI, then mirror the shared registry into the console database.

The pure main decides the exit code and prints its own lines; on success the console's mirror is
reconciled with the registry it just wrote (licensing.services.registry_mirror_reconcile), so a license
provisioned or revoked on the command line shows in the console at once. A mirror failure never changes
the outcome (the registry is the truth): it is one warning line, and the console can reconcile later.
"""

import sys

from audit.management.passthrough import PassthroughCommand


class MirroredPassthroughCommand(PassthroughCommand):
    def run_from_argv(self, argv):
        code = type(self).main(argv[2:])
        if code == 0 and "-h" not in argv[2:] and "--help" not in argv[2:]:
            try:
                from licensing.services import registry_mirror_reconcile

                report = registry_mirror_reconcile()
            except Exception as exc:  # noqa: BLE001 - the registry write already succeeded; report, don't fail
                print(f"warning: console mirror not updated: {' '.join(str(exc).split())}", file=sys.stderr)
            else:
                if report.problems:
                    print(f"warning: console mirror: {report.problems[0]}", file=sys.stderr)
                elif report.changed:
                    print(f"  console mirror: {report.summary()}")
        sys.exit(code)

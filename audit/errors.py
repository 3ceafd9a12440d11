"""The one base of every refusal the console gives: a service raises a `Refused` (or a subclass), and the API
handler and the page helper translate it, the same way everywhere.

A refusal carries its HTTP status and a stable machine code; its message is written for the person who was
refused and is shown as is, so it never holds secrets, paths or internals. Domain errors of the Django apps
subclass one of these (a licensing error is an `Invalid`, a refused signature a `NotAllowed`...), so a new
error needs no new mapping anywhere. This module imports nothing from Django: the trust core may use it.
"""


class Refused(Exception):
    """Something the caller asked for that will not happen. Nothing was written, unless the service says it
    audited the refusal itself."""

    status: int = 400
    code: str = "refused"

    def __init__(self, message: str, *, code: str | None = None, **extra):
        message = " ".join(str(message).split())  # one line, whatever the message held
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        # Extra keys of the JSON error body (`{"error": {"code", "message", **extra}}`); must be JSON-safe.
        self.extra = extra

    def __str__(self) -> str:
        return self.message


class Invalid(Refused):
    """The request itself is wrong: bad values, a missing field, a state the action does not apply to."""

    status = 400
    code = "invalid"


class NotAllowed(Refused):
    """The actor may not do this (their role, their deployment, a lockout)."""

    status = 403
    code = "permission_denied"


class NotFound(Refused):
    """No such object, or one the actor may not see: the two are the same answer, so nothing leaks."""

    status = 404
    code = "not_found"


class Conflict(Refused):
    """The object's current state forbids it (already signed, already decided, changed meanwhile)."""

    status = 409
    code = "conflict"


class TooLarge(Refused):
    status = 413
    code = "payload_too_large"


class Unavailable(Refused):
    """A dependency on this machine failed (a mirror directory, a worker); trying again may work."""

    status = 503
    code = "unavailable"

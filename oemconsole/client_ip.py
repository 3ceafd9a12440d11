"""The client address every lockout and throttle keys on: the socket peer only. Forwarded-for headers are
whatever the client wants them to be, so they never choose whose counter a request lands in."""


def client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "").strip()

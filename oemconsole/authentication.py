"""API token authentication: `Authorization: Token <secret>`, looked up by the secret's SHA-384; expired or
revoked tokens answer 401 like unknown ones."""

from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from audit.trust.hashing import sha384_bytes

from .models import ApiToken


def token_digest(secret: str) -> str:
    return sha384_bytes(secret.encode("utf-8", "surrogateescape"))


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        if not key or len(key) > 200:
            raise AuthenticationFailed("invalid token")
        token = ApiToken.objects.select_related("user").filter(key_sha384=token_digest(key)).first()
        if token is None or not token.user.is_active:
            raise AuthenticationFailed("invalid token")
        if token.revoked_at is not None:
            raise AuthenticationFailed("this token was revoked")
        if token.expires_at <= timezone.now():
            raise AuthenticationFailed("this token expired")
        return token.user, token

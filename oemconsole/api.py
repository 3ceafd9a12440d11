from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.roles import roles_of

from .models import ApiToken
from .parsers import BoundedJSONParser
from .services import api_token_issue, api_token_revoke
from .throttle import AuthRateThrottle


class AuthTokenSerializer(serializers.Serializer):
    """A username and password, checked by the authentication backends (so failures count towards the
    lockout); the answer is the same for an unknown name, a wrong password and an inactive account."""

    username = serializers.CharField(write_only=True)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, write_only=True)

    def validate(self, attrs):
        user = authenticate(
            self.context.get("request"), username=attrs["username"], password=attrs["password"]
        )
        if user is None:
            raise serializers.ValidationError(
                "Unable to log in with provided credentials.", code="authorization"
            )
        return {**attrs, "user": user}


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "created_at", "expires_at", "revoked_at"]
        read_only_fields = fields


class MeApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "username": serializers.CharField(),
                "roles": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request):
        return Response({"username": request.user.get_username(), "roles": roles_of(request.user)})


class TokenIssueApi(APIView):
    """Exchange a username and password for an API token that expires (OEM_API_TOKEN_HOURS). Anonymous,
    throttled per address; failures count towards the (username, address) lockout."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]
    parser_classes = [BoundedJSONParser, FormParser]  # anonymous bodies get the same bounds as any other

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenSerializer})
    def post(self, request):
        credentials = AuthTokenSerializer(data=request.data, context={"request": request})
        credentials.is_valid(raise_exception=True)
        token, secret = api_token_issue(actor=credentials.validated_data["user"], request=request)
        return Response(
            TokenSerializer({"id": token.pk, "token": secret, "expires_at": token.expires_at}).data
        )

    def throttled(self, request, wait):
        raise TooManyAttempts(int(wait or 1) + 1)

    def handle_exception(self, exc):
        if isinstance(exc, TooManyAttempts):
            return Response(
                {"error": {"code": "throttled", "message": str(exc.detail)}},
                status=429,
                headers={"Retry-After": str(exc.seconds)},
            )
        return super().handle_exception(exc)


class TooManyAttempts(Throttled):
    def __init__(self, seconds: int):
        self.seconds = seconds
        super().__init__(
            detail=f"too many sign-in attempts from this address: try again in {seconds} seconds"
        )


class TokenRevokeApi(APIView):
    """Revoke an API token by id: its owner or an admin; any other token is a 404."""

    @extend_schema(request=None, responses={200: TokenStateSerializer})
    def post(self, request, pk: int):
        token = api_token_revoke(actor=request.user, token_id=pk)
        return Response(TokenStateSerializer(token).data)

"""RBAC tokens: signed, strict, audience-checked, time-boxed and bound to one client certificate."""

import base64
import json
import time

import pytest

from audit.trust.canonical import canonical_bytes
from audit.trust.keyring import KeyRing
from audit.trust.signatures import HmacSigner
from execution.tokens import TokenError, issue_operator_token_main, issue_token, verify_token
from tests.trust_setup import installed

CERT = b"certificate-der-a"
OTHER = b"certificate-der-b"


@pytest.fixture
def ring(tmp_path):
    installed(tmp_path)
    return KeyRing.load(tmp_path)


def _code(excinfo):
    return excinfo.value.code


def test_round_trip_and_role_implication(ring):
    token = issue_token(keyring=ring, subject="alice", roles=["trader_live"], cert_der=CERT)
    claims = verify_token(token, keyring=ring, peer_cert_der=CERT)
    assert claims.sub == "alice" and claims.aud == "oem-daemon" and claims.kid.startswith("token-")
    assert claims.has("operator") and claims.has("viewer") and not claims.has("admin")
    admin = verify_token(
        issue_token(keyring=ring, subject="root", roles=["admin"], cert_der=CERT),
        keyring=ring,
        peer_cert_der=CERT,
    )
    assert admin.has("viewer") and not admin.has("trader_live")


@pytest.mark.parametrize(
    ("kwargs", "peer", "code"),
    [
        ({"now": time.time() - 7200, "ttl_s": 60}, CERT, "expired"),
        ({"audience": "someone-else"}, CERT, "wrong_audience"),
        ({}, OTHER, "cert_mismatch"),
    ],
)
def test_refusals(ring, kwargs, peer, code):
    token = issue_token(keyring=ring, subject="alice", roles=["operator"], cert_der=CERT, **kwargs)
    with pytest.raises(TokenError) as excinfo:
        verify_token(token, keyring=ring, peer_cert_der=peer)
    assert _code(excinfo) == code


def test_forged_tokens_are_refused(ring):
    token = issue_token(keyring=ring, subject="alice", roles=["viewer"], cert_der=CERT)
    body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["roles"] = ["admin"]
    elevated = base64.urlsafe_b64encode(canonical_bytes(claims)).rstrip(b"=").decode()
    with pytest.raises(TokenError) as excinfo:
        verify_token(f"{elevated}.{signature}", keyring=ring, peer_cert_der=CERT)
    assert _code(excinfo) == "bad_signature"
    kid = signature.split(":")[1]
    forged = HmacSigner(kid, b"x" * 48).sign("oem/token/v1", claims)
    with pytest.raises(TokenError, match="signature"):
        verify_token(f"{elevated}.{forged}", keyring=ring, peer_cert_der=CERT)
    # a config-key signature over the same bytes is refused (purpose pinned by the key ring)
    config_sig = ring.hmac_signer("config").sign("oem/token/v1", claims)
    with pytest.raises(TokenError, match="not a token key"):
        verify_token(f"{elevated}.{config_sig}", keyring=ring, peer_cert_der=CERT)


@pytest.mark.parametrize("bad", ["", "abc", "a.b.c", "!!!.hmac-sha384:k:AAAA", "eyJ9.x"])
def test_malformed(ring, bad):
    with pytest.raises(TokenError):
        verify_token(bad, keyring=ring, peer_cert_der=CERT)


def test_non_canonical_body_is_refused(ring):
    token = issue_token(keyring=ring, subject="alice", roles=["viewer"], cert_der=CERT)
    body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    spaced = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="canonical"):
        verify_token(f"{spaced}.{signature}", keyring=ring, peer_cert_der=CERT)


def test_cli_issues_a_token_bound_to_the_certificate(tmp_path, capsys):
    from execution.mtls.bundle import generate_bundle

    generate_bundle(tmp_path / "certs", ["alice"])
    pem = tmp_path / "certs" / "clients" / "alice.pem"
    args = [
        "--subject",
        "alice",
        "--roles",
        "operator,viewer",
        "--cert",
        str(pem),
        "--ttl-minutes",
        "5",
        "--data-dir",
        str(tmp_path / "var"),
    ]
    installed(tmp_path / "var")
    assert issue_operator_token_main(args) == 0
    token = capsys.readouterr().out.strip()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(Encoding.DER)
    claims = verify_token(token, keyring=KeyRing.load(tmp_path / "var"), peer_cert_der=der)
    assert claims.roles == ("operator", "viewer") and claims.exp - claims.iat == 300
    assert issue_operator_token_main([*args[:1], "mallory", *args[2:]]) == 1
    assert (
        issue_operator_token_main(
            ["--subject", "alice", "--roles", "god", "--cert", str(pem), "--data-dir", str(tmp_path / "var")]
        )
        == 1
    )

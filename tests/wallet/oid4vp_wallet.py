"""An OpenID4VP 1.0 wallet for the tests, as strict as a real one about
the verifier's request, holding an SD-JWT VC issued with the independent
`sd-jwt` library (see sd_jwt_wallet.py), encrypting with jwcrypto.

Reads one JSON request on stdin:

  {"link": "openid4vp://?client_id=...&request_uri=...",
   "verifier_ca": PEM the request's x5c must chain to,
   "issuer_key", "x5c", "iss", "vct": the credential's issuer and type,
   "person": {"name", "birthdate", "ci"}, "status": {"idx", "uri"} | null,
   "misbehave": "none" | a wallet misbehaviour | an sd_jwt_wallet one,
   "replay": a presentation to send instead of a fresh one | null}

or, as the issuer, {"status_list": {"bits", "values", "uri"}, "issuer_key",
"x5c"}, and writes {"status_token"}; and writes {"status": HTTP status of the response post, "body": its JSON,
"presentation": what was presented, "request": the request's payload}.

Wallet misbehaviours: refuse (error=access_denied), refuse_encrypted (the
same inside the JWE), wrong_state, unencrypted (a plain vp_token where
direct_post.jwt was asked), wrong_kid, withheld_claim (the birth date not
disclosed), fetch_again (the request fetched three more times: the last is
refused).
"""

import base64
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

import sd_jwt_wallet


def fail(why):
    json.dump({"wallet_refused": why}, sys.stdout)
    sys.exit(3)


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "==="))


def post(url, fields, accept="application/json"):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(
        url,
        data=data,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": accept,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def fetch_request(link, ca_pem):
    """The verifier's request, every check a wallet makes done."""
    u = urllib.parse.urlparse(link)
    if u.scheme != "openid4vp":
        fail("not an openid4vp link")
    q = dict(urllib.parse.parse_qsl(u.query, strict_parsing=True))
    client_id, request_uri = q["client_id"], q["request_uri"]
    if not client_id.startswith("x509_san_dns:"):
        fail("client_id prefix")
    host = client_id[len("x509_san_dns:") :]
    if urllib.parse.urlparse(request_uri).hostname != host:
        fail("request_uri is not on the client's host")
    wallet_nonce = secrets.token_urlsafe(16)
    if q.get("request_uri_method") == "post":
        status, ctype, body = post(
            request_uri,
            {"wallet_nonce": wallet_nonce},
            accept="application/oauth-authz-req+jwt",
        )
    else:
        wallet_nonce = None
        with urllib.request.urlopen(request_uri, timeout=20) as r:
            status, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
    if status != 200 or not ctype.startswith("application/oauth-authz-req+jwt"):
        fail(f"request_uri answered {status} {ctype}")
    jwt = body.decode()
    header = b64url_json(jwt.split(".")[0])
    if header.get("typ") != "oauth-authz-req+jwt" or header.get("alg") != "ES256":
        fail("request typ or alg")
    chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in header["x5c"]]
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    leaf = chain[0]
    # The chain, leaf to the anchor the wallet trusts for verifiers.
    for child, parent in zip(chain, chain[1:] + [ca]):
        child.verify_directly_issued_by(parent)
    sans = leaf.extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME
    ).value.get_values_for_type(x509.DNSName)
    if host not in sans:
        fail("the leaf does not name the client's host")
    jws = JWS()
    jws.deserialize(jwt)
    jws.verify(JWK.from_pyca(leaf.public_key()), alg="ES256")
    p = json.loads(jws.payload)
    if p.get("client_id") != client_id:
        fail("client_id differs from the link's")
    if p.get("response_type") != "vp_token":
        fail("response_type")
    if p.get("response_mode") not in ("direct_post", "direct_post.jwt"):
        fail("response_mode")
    if urllib.parse.urlparse(p["response_uri"]).hostname != host:
        fail("response_uri is not on the client's host")
    if wallet_nonce and p.get("wallet_nonce") != wallet_nonce:
        fail("wallet_nonce not echoed")
    if p.get("exp", 0) <= time.time() or "redirect_uri" in p:
        fail("expired or a redirect_uri")
    if len(p.get("nonce", "")) < 22 or len(p.get("state", "")) < 22:
        fail("nonce or state too short")
    return p


def main():
    req = json.load(sys.stdin)
    if "status_list" in req:
        # The issuer publishing its status list: {"status_token"}.
        key = JWK.from_pem(req["issuer_key"].encode())
        token = sd_jwt_wallet.make_status_token(key, req["x5c"], req["status_list"], int(time.time()))
        json.dump({"status_token": token}, sys.stdout)
        return
    bad = req.get("misbehave", "none")
    p = fetch_request(req["link"], req["verifier_ca"])
    out = {"request": p}
    if bad == "fetch_again":
        # Three more fetches (a wallet retrying): the verifier allows three
        # in all, then refuses.
        u = urllib.parse.urlparse(req["link"])
        q = dict(urllib.parse.parse_qsl(u.query))
        statuses = []
        for _ in range(3):
            status, _, body = post(q["request_uri"], {})
            statuses.append(status)
        out.update({"statuses": statuses, "body": json.loads(body or b"{}")})
        json.dump(out, sys.stdout)
        return
    query = p["dcql_query"]["credentials"][0]
    asked = [c["path"][0] for c in query["claims"]]
    if query["meta"]["vct_values"] and req["vct"] not in query["meta"]["vct_values"]:
        # A real wallet would find no credential; the test's wrong type
        # is presented anyway, to see the verifier refuse it.
        pass
    disclose = [n for n in asked if not (bad == "withheld_claim" and n == "birthdate")]
    if req.get("replay"):
        presentation = req["replay"]
    else:
        made = sd_jwt_wallet.make(
            {
                "issuer_key": req["issuer_key"],
                "x5c": req["x5c"],
                "iss": req["iss"],
                "vct": req["vct"],
                # Every claim selectively disclosable, one more than asked
                # (never to be released).
                "claims": dict(req["person"], nationality="KR"),
                "sd": list(req["person"]) + ["nationality"],
                "disclose": disclose,
                "nonce": p["nonce"],
                "aud": p["client_id"],
                "misbehave": bad,
                "status": req.get("status"),
            }
        )
        presentation = made["presentation"]
    out["presentation"] = presentation
    state = "0" * len(p["state"]) if bad == "wrong_state" else p["state"]
    if bad == "refuse":
        fields = {"error": "access_denied", "state": state}
    elif bad == "refuse_encrypted":
        # The error inside the encryption, as §8.3 also allows.
        key = JWK(**p["client_metadata"]["jwks"]["keys"][0])
        jwe = JWE(
            json.dumps({"error": "access_denied", "state": state}).encode(),
            protected=json.dumps({"alg": "ECDH-ES", "enc": "A256GCM", "kid": key["kid"]}),
        )
        jwe.add_recipient(key)
        fields = {"response": jwe.serialize(compact=True)}
    elif p["response_mode"] == "direct_post.jwt" and bad != "unencrypted":
        jwks = p["client_metadata"]["jwks"]["keys"]
        key = JWK(**jwks[0])
        kid = "0" * 32 if bad == "wrong_kid" else key["kid"]
        enc = p["client_metadata"].get("encrypted_response_enc_values_supported", ["A128GCM"])[0]
        payload = {"vp_token": {query["id"]: [presentation]}, "state": state}
        jwe = JWE(
            json.dumps(payload).encode(),
            protected=json.dumps({"alg": "ECDH-ES", "enc": enc, "kid": kid}),
        )
        jwe.add_recipient(key)
        fields = {"response": jwe.serialize(compact=True)}
    else:
        fields = {
            "vp_token": json.dumps({query["id"]: [presentation]}),
            "state": state,
        }
    status, _, body = post(p["response_uri"], fields)
    out.update({"status": status, "body": json.loads(body or b"{}")})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

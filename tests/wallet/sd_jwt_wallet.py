"""A test issuer and wallet for SD-JWT VC, made with the independent
`sd-jwt` library (PyPI sd-jwt 0.10.4, OpenWallet Foundation) and jwcrypto,
so that a mistake in the gateway's verifier is caught, not mirrored by our
own encoder.

Reads one JSON request on stdin and writes one JSON answer on stdout:

  {"issuer_key": PEM, "x5c": [base64 DER, leaf first], "iss", "vct",
   "claims": {...}, "sd": [names disclosed selectively], "disclose": [names
   shown], "nonce", "aud", "misbehave": "none" | ..., "status": {"idx",
   "uri"} | null, "status_list": {"bits", "values": [...], "uri"} | null}

Answers {"presentation": "...", "status_token": "..." | null}.
"""

import base64
import hashlib
import json
import sys
import time
import zlib

from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign_jwt(key, header, payload):
    token = JWS(json.dumps(payload).encode())
    token.add_signature(key, alg="ES256", protected=json.dumps(header))
    return token.serialize(compact=True)


def make(req, holder_key=None):
    """Issues the credential and presents it; {"presentation",
    "status_token"}. `holder_key` is the wallet's key (a fresh one if
    none)."""
    bad = req.get("misbehave", "none")
    now = int(time.time())
    issuer_key = JWK.from_pem(req["issuer_key"].encode())
    holder_key = holder_key or JWK.generate(kty="EC", crv="P-256")
    claims = {
        "iss": req["iss"],
        "iat": now - 10,
        "exp": now - 3600 if bad == "expired" else now + 3600,
        "vct": req["vct"],
    }
    if req.get("status"):
        claims["status"] = {"status_list": req["status"]}
    disclose = {n: True for n in req["disclose"]}
    for name, value in req["claims"].items():
        if name == "address":
            # A structured claim: each member disclosed on its own.
            claims[SDObj(name)] = {SDObj(k): v for k, v in value.items()}
            disclose[name] = {k: True for k in value}
        elif name == "nationalities":
            # Array elements disclosed one by one: the first is shown.
            claims[name] = [SDObj(v) for v in value]
            disclose[name] = [i == 0 for i in range(len(value))]
        elif name in req["sd"]:
            claims[SDObj(name)] = value
        else:
            claims[name] = value
    typ = "vc+sd-jwt" if bad == "legacy_typ" else "dc+sd-jwt"
    issued = SDJWTIssuer(
        claims,
        issuer_key,
        holder_key,
        sign_alg="ES256",
        add_decoy_claims=True,
        extra_header_parameters={"typ": typ, "x5c": req["x5c"]},
    ).sd_jwt_issuance
    holder = SDJWTHolder(issued)
    nonce = "another-nonce-0123456789" if bad == "wrong_nonce" else req["nonce"]
    aud = "x509_san_dns:evil.example" if bad == "wrong_aud" else req["aud"]
    key = JWK.generate(kty="EC", crv="P-256") if bad == "other_holder_key" else holder_key
    holder.create_presentation(disclose, nonce, aud, key, "ES256")
    presentation = holder.sd_jwt_presentation
    parts = presentation.split("~")
    # The disclosure of the birth date (the order of disclosures is the
    # library's, not fixed): the one the tampering cases touch.
    birth = next(
        (
            i
            for i, d in enumerate(parts[1:-1], start=1)
            if json.loads(base64.urlsafe_b64decode(d + "==="))[1:2] == ["birthdate"]
        ),
        None,
    )
    if bad == "no_key_binding":
        presentation = "~".join(parts[:-1]) + "~"
    elif bad == "dropped_disclosure":
        # A stolen presentation with a disclosure taken out, its KB-JWT as
        # it was: the sd_hash no longer covers what is sent.
        presentation = "~".join(parts[:birth] + parts[birth + 1 :])
    elif bad == "stale_kb":
        signed = "~".join(parts[:-1]) + "~"
        presentation = signed + resign_kb(parts[-1], signed, holder_key, iat=now - 3600)
    elif bad == "kb_typ":
        signed = "~".join(parts[:-1]) + "~"
        presentation = signed + resign_kb(parts[-1], signed, holder_key, typ="jwt")
    elif bad == "tampered_disclosure":
        # A disclosure re-encoded with another value: its digest is not the
        # issuer's (the KB-JWT's sd_hash is made over the tampered form, as
        # a holder who tampered would make it).
        d = json.loads(base64.urlsafe_b64decode(parts[birth] + "==="))
        d[-1] = "1970-01-01"
        parts[birth] = b64url(json.dumps(d).encode())
        signed = "~".join(parts[:-1]) + "~"
        presentation = signed + resign_kb(parts[-1], signed, holder_key)
    elif bad == "tampered_payload":
        h, p, s = parts[0].split(".")
        payload = json.loads(base64.urlsafe_b64decode(p + "==="))
        payload["vct"] = payload["vct"]
        payload["exp"] = payload["exp"] + 86400
        parts[0] = ".".join([h, b64url(json.dumps(payload).encode()), s])
        signed = "~".join(parts[:-1]) + "~"
        presentation = signed + resign_kb(parts[-1], signed, holder_key)
    elif bad == "extra_disclosure":
        # A disclosure the issuer never referred to, slipped in.
        extra = b64url(json.dumps(["c2FsdA", "ihidnum", "900131-1234567"]).encode())
        signed = "~".join(parts[:-1]) + "~" + extra + "~"
        presentation = signed + resign_kb(parts[-1], signed, holder_key)
    sl = req.get("status_list")
    status_token = make_status_token(issuer_key, req["x5c"], sl, now) if sl else None
    return {"presentation": presentation, "status_token": status_token}


def main():
    json.dump(make(json.load(sys.stdin)), sys.stdout)


def make_status_token(issuer_key, x5c, sl, now):
    """A Token Status List of `sl["values"]` (`bits` each) for `sl["uri"]`,
    signed by the issuer."""
    bits = sl["bits"]
    per = 8 // bits
    raw = bytearray((len(sl["values"]) + per - 1) // per)
    for i, v in enumerate(sl["values"]):
        raw[(i * bits) // 8] |= v << ((i * bits) % 8)
    header = {"alg": "ES256", "typ": "statuslist+jwt", "x5c": x5c}
    payload = {
        "sub": sl["uri"],
        "iat": now - sl.get("age", 5),
        "ttl": 300,
        "status_list": {"bits": bits, "lst": b64url(zlib.compress(bytes(raw), 9))},
    }
    if not sl.get("no_exp"):
        payload["exp"] = now + 600
    return sign_jwt(issuer_key, header, payload)


def resign_kb(kb, signed, holder_key, iat=None, typ=None):
    """The KB-JWT again, over `signed` (what a tampering holder would send),
    with another `iat` or `typ` if asked."""
    h, p, _ = kb.split(".")
    header = json.loads(base64.urlsafe_b64decode(h + "==="))
    payload = json.loads(base64.urlsafe_b64decode(p + "==="))
    payload["sd_hash"] = b64url(hashlib.sha256(signed.encode()).digest())
    if iat is not None:
        payload["iat"] = iat
    if typ is not None:
        header["typ"] = typ
    return sign_jwt(holder_key, header, payload)


if __name__ == "__main__":
    main()

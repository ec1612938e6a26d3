"""A relying-party website used as a test peer: a real OIDC client library (Authlib).

It is independent of the gateway's code: discovery, authorization URL with PKCE,
state and nonce, the token call (client_secret_basic / client_secret_post /
private_key_jwt / none),
ID token validation against the published JWKS, userinfo. The Rust end-to-end
tests play the citizen's browser and read the JSON this site answers with.

Endpoints:
  GET /login?scope=..&prompt=..&acr_values=..&max_age=..   -> 302 to the gateway
  GET /callback?...                                        -> JSON result
  GET /replay                                              -> JSON: the last code redeemed again
  POST /backchannel-logout (logout_token=..)               -> 200 when the logout token is valid
                                                              (Back-Channel Logout 1.0 §2.6), else 400
  GET /backchannel-logouts                                 -> JSON: every logout token received and
                                                              what the checks found
Prints "site listening on http://127.0.0.1:PORT" when ready.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken

ARGS = None
STATE = {}
LOCK = threading.Lock()


def session(verify):
    s = requests.Session()
    # Only the CA we are given: ignore REQUESTS_CA_BUNDLE and proxies from the environment.
    s.trust_env = False
    s.verify = verify
    return s


def discovery():
    s = session(ARGS.ca or True)
    r = s.get(ARGS.issuer + "/.well-known/openid-configuration", timeout=10)
    r.raise_for_status()
    return r.json()


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's private_key_jwt with the key's kid in the header and a
    two-minute assertion (Authlib's default is an hour; the gateway accepts at
    most five minutes). Fresh claims per call, so each jti is new."""

    def sign(self, auth, token_endpoint):
        self.claims = {"exp": int(time.time()) + 120}
        self.headers = {"kid": ARGS.client_key_id}
        return super().sign(auth, token_endpoint)


def client(meta, **kw):
    auth = ARGS.auth_method
    if auth == "private_key_jwt":
        with open(ARGS.client_key) as f:
            secret = f.read()
    elif auth != "none":
        secret = ARGS.client_secret
    else:
        secret = None
    c = OAuth2Session(
        client_id=ARGS.client_id,
        client_secret=secret,
        token_endpoint_auth_method=auth,
        redirect_uri=ARGS.redirect_uri,
        code_challenge_method="S256",
        **kw,
    )
    if auth == "private_key_jwt":
        c.register_client_auth_method(ShortLivedPrivateKeyJWT(meta["token_endpoint"]))
    c.trust_env = False
    c.verify = ARGS.ca or True
    return c


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body, location=None):
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/login":
                return self.login(q)
            if url.path == "/callback":
                return self.callback(q)
            if url.path == "/replay":
                return self.replay()
            if url.path == "/backchannel-logouts":
                with LOCK:
                    return self.reply(200, list(STATE.get("logouts", [])))
            return self.reply(404, {"error": "not found"})
        except Exception as e:  # the test reads this
            return self.reply(500, {"error": "site_exception", "detail": repr(e)})

    def do_POST(self):
        url = urlparse(self.path)
        if url.path != "/backchannel-logout":
            return self.reply(404, {"error": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        seen = {"content_type": self.headers.get("Content-Type")}
        try:
            tokens = form.get("logout_token", [])
            if len(tokens) != 1:
                raise ValueError("exactly one logout_token expected")
            seen.update(check_logout_token(tokens[0]))
            seen["valid"] = True
            status = 200
        except Exception as e:  # recorded for the test, answered as §2.8 says
            seen.update({"valid": False, "error": repr(e)})
            status = 400
        with LOCK:
            STATE.setdefault("logouts", []).append(seen)
        if status == 200:
            self.send_response(200)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.reply(400, {"error": "invalid_request"})

    def login(self, q):
        meta = discovery()
        verifier = generate_token(64)
        nonce = generate_token(20)
        c = client(meta, scope=q.get("scope", "openid profile phone"))
        extra = {k: q[k] for k in ("prompt", "acr_values", "max_age", "login_hint") if k in q}
        uri, state = c.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        with LOCK:
            STATE[state] = {"verifier": verifier, "nonce": nonce, "meta": meta}
        return self.reply(302, {"location": uri}, location=uri)

    def callback(self, q):
        with LOCK:
            pending = STATE.pop(q.get("state", ""), None)
        if pending is None:
            return self.reply(400, {"error": "unknown_state"})
        meta = pending["meta"]
        if q.get("iss") != meta["issuer"]:
            return self.reply(400, {"error": "iss_mismatch", "iss": q.get("iss")})
        if "error" in q:
            return self.reply(200, {"error": q["error"], "error_description": q.get("error_description")})
        c = client(meta, state=q["state"])
        token = c.fetch_token(
            meta["token_endpoint"],
            code=q["code"],
            code_verifier=pending["verifier"],
        )
        jwks = session(ARGS.ca or True).get(meta["jwks_uri"], timeout=10).json()
        claims = jwt.decode(
            token["id_token"],
            JsonWebKey.import_key_set(jwks),
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
            claims_params={"nonce": pending["nonce"], "client_id": ARGS.client_id},
        )
        claims.validate()
        header = json.loads(
            __import__("base64").urlsafe_b64decode(token["id_token"].split(".")[0] + "==")
        )
        info = c.get(meta["userinfo_endpoint"]).json()
        with LOCK:
            STATE["last"] = {"code": q["code"], "meta": meta, "verifier": pending["verifier"]}
        return self.reply(
            200,
            {
                "id_token_claims": dict(claims),
                "id_token_alg": header.get("alg"),
                "userinfo": info,
                "token_type": token.get("token_type"),
                "access_token": token.get("access_token"),
                "id_token": token.get("id_token"),
            },
        )

    def replay(self):
        with LOCK:
            last = STATE.get("last")
        if last is None:
            return self.reply(400, {"error": "nothing to replay"})
        data = {
            "grant_type": "authorization_code",
            "code": last["code"],
            "redirect_uri": ARGS.redirect_uri,
            "code_verifier": last["verifier"],
        }
        auth = None
        if ARGS.auth_method == "client_secret_basic":
            auth = (ARGS.client_id, ARGS.client_secret)
        elif ARGS.auth_method == "client_secret_post":
            data.update(client_id=ARGS.client_id, client_secret=ARGS.client_secret)
        else:
            data.update(client_id=ARGS.client_id)
        r = session(ARGS.ca or True).post(last["meta"]["token_endpoint"], data=data, auth=auth, timeout=10)
        return self.reply(200, {"status": r.status_code, "body": r.json()})


BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def check_logout_token(token):
    """Back-Channel Logout 1.0 §2.6, with Authlib's JWT decoding: the
    signature by the OP's published keys, `iss`, `aud` (this client), `iat`,
    `exp`, explicit typing (`typ` logout+jwt), the `events` member with the
    back-channel event, `sub` or `sid`, no `nonce`, a `jti` seen once."""
    import base64 as b64
    header = json.loads(b64.urlsafe_b64decode(token.split(".")[0] + "=="))
    if header.get("typ") != "logout+jwt":
        raise ValueError(f"typ is {header.get('typ')!r}, not logout+jwt")
    meta = discovery()
    jwks = session(ARGS.ca or True).get(meta["jwks_uri"], timeout=10).json()
    claims = jwt.decode(
        token,
        JsonWebKey.import_key_set(jwks),
        claims_options={
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": ARGS.client_id},
            "iat": {"essential": True},
            "exp": {"essential": True},
            "jti": {"essential": True},
        },
    )
    claims.validate(leeway=30)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise ValueError("no back-channel logout event")
    if "nonce" in claims:
        raise ValueError("a logout token must not carry a nonce")
    if not claims.get("sub") and not claims.get("sid"):
        raise ValueError("neither sub nor sid")
    with LOCK:
        jtis = STATE.setdefault("jtis", set())
        if claims["jti"] in jtis:
            raise ValueError("jti seen before")
        jtis.add(claims["jti"])
    return {"header": header, "claims": dict(claims)}


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--issuer", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret")
    p.add_argument("--auth-method", default="client_secret_basic",
                   choices=["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
    p.add_argument("--client-key", help="private_key_jwt: the site's RSA private key (PEM)")
    p.add_argument("--client-key-id", help="private_key_jwt: the key's kid")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", help="PEM file trusted for the gateway's https")
    ARGS = p.parse_args()
    if ARGS.auth_method == "private_key_jwt" and not (ARGS.client_key and ARGS.client_key_id):
        p.error("private_key_jwt needs --client-key and --client-key-id")
    ARGS.redirect_uri = f"http://127.0.0.1:{ARGS.port}/callback"
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print(f"site listening on http://127.0.0.1:{ARGS.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

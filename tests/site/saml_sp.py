"""A SAML 2.0 service provider used as a test peer: a real SAML library (pysaml2).

It is independent of the gateway's code: it reads the gateway's IdP metadata,
sends AuthnRequests and LogoutRequests over HTTP-Redirect and HTTP-POST, and
validates what comes back as strictly as pysaml2 allows (signatures against the
metadata's keys only, InResponseTo, audience, time with 60 s of skew). pysaml2
leaves a few checks to the application; this site adds them, so that a gateway
bug is not hidden by a lenient peer: Destination must be present and name the
endpoint the message arrived at, every bearer Recipient must name it too, the
RelayState must come back unchanged, an assertion ID is accepted once, and
logout messages must be signed (in the query or in the XML, per binding).

Endpoints (the Rust end-to-end tests play the browser and read the JSON):
  GET /login?binding=redirect|post&...   -> 302 / auto-POST form to the IdP
  POST /acs, /acs2                       -> JSON result of the login
  GET /last-response                     -> the last SAMLResponse XML seen at an ACS
  GET /logout[?binding=post]             -> 302 / form: LogoutRequest to the IdP
  GET|POST /slo                          -> LogoutResponse: JSON; LogoutRequest: answered
  GET /last-logout-message               -> the last logout message XML seen at /slo
  GET /session                            -> JSON: the NameID logged in here (null once logged out)
Prints "sp listening on http://127.0.0.1:PORT" when ready.
"""

import argparse
import base64
import datetime
import html
import json
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, class_name, saml, samlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor, metadata_tostring_fix
from saml2.response import StatusError
from saml2.s_utils import decode_base64_and_inflate
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.sigver import get_xmlsec_binary, verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}
# The algorithms of signed AuthnRequests: RSA-SHA256 and SHA-256 unless a test
# plays an SP that keeps pysaml2's SHA-1 defaults (7.5: RSA-SHA1, SHA-1).
AUTHN_SIG = {"rsa-sha256": SIG_RSA_SHA256, "rsa-sha1": SIG_RSA_SHA1}
AUTHN_DIGEST = {"sha256": DIGEST_SHA256, "sha1": DIGEST_SHA1}
NAMEID_FORMATS = {"persistent": NAMEID_FORMAT_PERSISTENT, "transient": NAMEID_FORMAT_TRANSIENT}

ARGS = None
LOCK = threading.Lock()
# Outstanding AuthnRequest ID -> RelayState; LogoutRequest ID -> RelayState;
# the last login's subject; assertion IDs already consumed; the last messages.
STATE = {"authn": {}, "logout": {}, "subject": None, "seen": set(),
         "last_response": None, "last_logout": None, "client": None}


class Rejected(Exception):
    """A check this site makes on top of pysaml2's."""


def make_key_pair(dir, name, cn):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = os.path.join(dir, f"{name}-key.pem"), os.path.join(dir, f"{name}-cert.pem")
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def sp_config(metadata_file=None):
    base = ARGS.base
    sp = {
        "name": "Munjigi e2e SP",
        "endpoints": {
            "assertion_consumer_service": [
                (f"{base}/acs", BINDING_HTTP_POST, 0),
                (f"{base}/acs2", BINDING_HTTP_POST, 1),
            ],
            "single_logout_service": [
                (f"{base}/slo", BINDING_HTTP_REDIRECT),
                (f"{base}/slo", BINDING_HTTP_POST),
            ],
        },
        "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
        "name_id_format_allow_create": True,
        "authn_requests_signed": ARGS.sign_requests,
        "logout_requests_signed": ARGS.sign_requests,
        "logout_responses_signed": ARGS.sign_requests,
        "want_assertions_signed": True,
        "want_response_signed": ARGS.want_response_signed,
        "allow_unsolicited": ARGS.allow_unsolicited,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
    }
    conf = {
        "entityid": ARGS.entity_id,
        "xmlsec_binary": get_xmlsec_binary(["/usr/bin"]),
        "key_file": ARGS.key_file,
        "cert_file": ARGS.cert_file,
        "only_use_keys_in_metadata": True,
        "accepted_time_diff": 60,
        "allow_unknown_attributes": True,
        "service": {"sp": sp},
    }
    if ARGS.encrypt:
        conf["encryption_keypairs"] = [{"key_file": ARGS.enc_key_file, "cert_file": ARGS.enc_cert_file}]
    if metadata_file:
        conf["metadata"] = {"local": [metadata_file]}
    c = SPConfig()
    c.load(conf)
    return c


def write_sp_metadata():
    ed = entity_descriptor(sp_config())
    ed.spsso_descriptor.assertion_consumer_service[0].is_default = "true"
    with open(os.path.join(ARGS.dir, "sp-metadata.xml"), "w") as f:
        f.write(metadata_tostring_fix(ed, {"xs": "http://www.w3.org/2001/XMLSchema"}).decode())


def client():
    """The pysaml2 client, built on first use: the gateway starts after this site."""
    if STATE["client"] is None:
        s = requests.Session()
        s.trust_env = False
        r = s.get(ARGS.idp_metadata_url, timeout=10)
        r.raise_for_status()
        path = os.path.join(ARGS.dir, "idp-metadata.xml")
        with open(path, "wb") as f:
            f.write(r.content)
        STATE["client"] = Saml2Client(config=sp_config(path))
    return STATE["client"]


def idp_entity_id(c):
    return next(iter(c.metadata.identity_providers()))


def idp_certs(c):
    return [cert for _, cert in c.metadata.certs(idp_entity_id(c), "idpsso", "signing")]


def status_of(xml):
    """(top-level code, second-level code, message) of a StatusResponse."""
    msg = samlp.any_response_from_string(xml)
    code = msg.status.status_code
    sub = code.status_code.value if code.status_code is not None else None
    text = msg.status.status_message.text if msg.status.status_message is not None else None
    return code.value, sub, text


def form_page(action, fields):
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in fields.items() if v
    )
    return (f'<!DOCTYPE html><html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(action)}">{inputs}'
            f'<noscript><input type="submit" value="Continue"/></noscript></form></body></html>')


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, status, data, ctype, location=None):
        data = data.encode() if isinstance(data, str) else data
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reply(self, status, body):
        self.send(status, json.dumps(body, ensure_ascii=False), "application/json")

    def send_binding(self, info, kind, relay):
        """Sends pysaml2's apply_binding() result: the redirect as it is; for
        HTTP-POST, its message in this site's own form."""
        if info["method"] == "GET":
            location = dict(info["headers"])["Location"]
            return self.send(302, json.dumps({"location": location}), "application/json", location)
        page = info["data"]
        at = page.index(f'name="{kind}"')
        value = page[at:].split('value="', 1)[1]
        fields = {kind: html.unescape(value[: value.index('"')]), "RelayState": relay}
        return self.send(200, form_page(info["url"], fields), "text/html; charset=utf-8")

    def dispatch(self, params):
        path = urlparse(self.path).path
        try:
            with LOCK:
                if path == "/login" and self.command == "GET":
                    return self.login(params)
                if path in ("/acs", "/acs2") and self.command == "POST":
                    return self.acs(path, params)
                if path == "/logout" and self.command == "GET":
                    return self.logout(params)
                if path == "/slo":
                    return self.slo(params)
                if path == "/session" and self.command == "GET":
                    subject = STATE["subject"]
                    return self.reply(200, {"name_id": subject[0].text if subject else None})
                if path in ("/last-response", "/last-logout-message") and self.command == "GET":
                    xml = STATE["last_response" if path == "/last-response" else "last_logout"]
                    if xml is None:
                        return self.reply(404, {"error": "nothing received yet"})
                    return self.send(200, xml, "text/xml; charset=utf-8")
            return self.reply(404, {"error": "not found"})
        except Rejected as e:
            return self.reply(400, {"ok": False, "error": f"Rejected: {e}"})
        except Exception as e:  # the test reads this
            return self.reply(400, {"ok": False, "error": f"{type(e).__name__}: {e}"})

    def do_GET(self):
        self.dispatch({k: v for k, v in parse_qs(urlparse(self.path).query).items()})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.dispatch(parse_qs(self.rfile.read(n).decode()))

    # ---- login --------------------------------------------------------------

    def login(self, q):
        one = {k: v[0] for k, v in q.items()}
        c = client()
        binding = BINDINGS[one.get("binding", "redirect")]
        relay = one.get("relay") or "rs-" + secrets.token_urlsafe(12)
        kw = {}
        if one.get("force") == "1":
            kw["force_authn"] = "true"
        if one.get("passive") == "1":
            kw["is_passive"] = "true"
        if "acr" in q:
            kw["requested_authn_context"] = {"authn_context_class_ref": q["acr"],
                                             "comparison": one.get("comparison", "exact")}
        if "allow_create" in one:
            kw["allow_create"] = "true" if one["allow_create"] == "1" else "false"
        response_binding = BINDING_HTTP_POST
        if "acs_index" in one:
            # AssertionConsumerServiceIndex excludes ProtocolBinding (SAML core 3.4.1).
            kw["assertion_consumer_service_index"] = one["acs_index"]
            response_binding = None
        elif "acs_url" in one:
            kw["assertion_consumer_service_url"] = one["acs_url"]
        req_id, info = c.prepare_for_authenticate(
            relay_state=relay, binding=binding, nameid_format=NAMEID_FORMATS.get(one.get("nameid")),
            sign=ARGS.sign_requests, sigalg=AUTHN_SIG[ARGS.authn_sig_alg],
            digest_alg=AUTHN_DIGEST[ARGS.authn_digest],
            response_binding=response_binding, **kw)
        STATE["authn"][req_id] = relay
        return self.send_binding(info, "SAMLRequest", relay)

    def acs(self, path, form):
        c = client()
        raw = form.get("SAMLResponse", [""])[0]
        relay = form.get("RelayState", [None])[0]
        xml = base64.b64decode(raw).decode("utf-8")
        STATE["last_response"] = xml
        url = ARGS.base + path
        outstanding = dict(STATE["authn"])
        try:
            resp = c.parse_authn_request_response(raw, BINDING_HTTP_POST, outstanding=outstanding)
        except StatusError:
            self.check_destination(samlp.any_response_from_string(xml), url)
            code, sub, text = status_of(xml)
            STATE["authn"].pop(samlp.any_response_from_string(xml).in_response_to, None)
            return self.reply(200, {"ok": False, "status": code, "sub_status": sub, "message": text,
                                    "relay_state": relay})
        if resp is None or resp.assertion is None:
            raise Rejected("pysaml2 did not accept the response (Destination, IssueInstant or no assertion)")
        self.check_destination(resp.response, url)
        for sc in resp.assertion.subject.subject_confirmation:
            recipient = sc.subject_confirmation_data.recipient if sc.subject_confirmation_data else None
            if recipient != url:
                raise Rejected(f"SubjectConfirmationData Recipient {recipient!r} is not {url}")
        if resp.in_response_to in STATE["authn"]:
            sent = STATE["authn"].pop(resp.in_response_to)
            if relay != sent:
                raise Rejected(f"RelayState {relay!r} is not the one sent ({sent!r})")
        if resp.assertion.id in STATE["seen"]:
            raise Rejected(f"assertion {resp.assertion.id} was already consumed")
        STATE["seen"].add(resp.assertion.id)

        attributes, friendly, formats = {}, {}, {}
        for statement in resp.assertion.attribute_statement:
            for a in statement.attribute:
                values = [v.text for v in a.attribute_value]
                attributes[a.name] = values
                formats[a.name] = a.name_format
                if a.friendly_name:
                    friendly[a.friendly_name] = values
        authn = resp.assertion.authn_statement[0]
        STATE["subject"] = (resp.name_id, authn.session_index)
        return self.reply(200, {
            "ok": True,
            "acs": path,
            "name_id": resp.name_id.text,
            "name_id_format": resp.name_id.format,
            "name_id_name_qualifier": resp.name_id.name_qualifier,
            "name_id_sp_name_qualifier": resp.name_id.sp_name_qualifier,
            "attributes": attributes,
            "friendly": friendly,
            "attribute_name_formats": formats,
            "session_index": authn.session_index,
            "session_not_on_or_after": authn.session_not_on_or_after,
            "authn_instant": authn.authn_instant,
            "authn_context_class_ref": authn.authn_context.authn_context_class_ref.text
            if authn.authn_context and authn.authn_context.authn_context_class_ref else None,
            "relay_state": relay,
            "issuer": resp.issuer(),
            "in_response_to": resp.in_response_to,
            "response_signed": resp.response.signature is not None,
            "assertion_signed": resp.assertion.signature is not None,
            "assertion_encrypted": "EncryptedAssertion" in xml,
        })

    @staticmethod
    def check_destination(msg, url):
        if msg.destination != url:
            raise Rejected(f"Destination {msg.destination!r} is not {url}")

    # ---- logout -------------------------------------------------------------

    def logout(self, q):
        c = client()
        if STATE["subject"] is None:
            raise Rejected("nobody is logged in")
        name_id, session_index = STATE["subject"]
        if "name_id" in q:  # a test asking about someone else
            name_id = saml.NameID(format=name_id.format, text=q["name_id"][0])
        binding = BINDINGS[q.get("binding", ["redirect"])[0]]
        idp = idp_entity_id(c)
        dest = c.metadata.single_logout_service(idp, binding, "idpsso")[0]["location"]
        sign = ARGS.sign_requests
        req_id, req = c.create_logout_request(
            dest, idp, name_id=name_id, session_indexes=[session_index] if session_index else None,
            sign=sign and binding == BINDING_HTTP_POST, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        relay = "rs-" + secrets.token_urlsafe(12)
        STATE["logout"][req_id] = relay
        info = c.apply_binding(binding, str(req), dest, relay,
                               sign=sign and binding == BINDING_HTTP_REDIRECT, sigalg=SIG_RSA_SHA256)
        return self.send_binding(info, "SAMLRequest", relay)

    def slo(self, q):
        c = client()
        one = {k: v[0] for k, v in q.items()}
        binding = BINDING_HTTP_REDIRECT if self.command == "GET" else BINDING_HTTP_POST
        kind = "SAMLResponse" if "SAMLResponse" in one else "SAMLRequest"
        if kind not in one:
            raise Rejected("neither SAMLRequest nor SAMLResponse")
        raw = one[kind]
        xml = decode_base64_and_inflate(raw) if binding == BINDING_HTTP_REDIRECT else base64.b64decode(raw)
        xml = xml.decode("utf-8") if isinstance(xml, bytes) else xml
        STATE["last_logout"] = xml
        self.check_logout_signature(c, binding, kind, one, xml)
        url = ARGS.base + "/slo"
        if kind == "SAMLResponse":
            msg = samlp.any_response_from_string(xml)
            self.check_destination(msg, url)
            if msg.in_response_to not in STATE["logout"]:
                raise Rejected(f"LogoutResponse InResponseTo {msg.in_response_to!r} is not outstanding")
            try:
                c.parse_logout_request_response(raw, binding)
            except StatusError:
                pass
            STATE["logout"].pop(msg.in_response_to)
            code, sub, text = status_of(xml)
            ok = code == samlp.STATUS_SUCCESS
            if ok:
                STATE["subject"] = None
            return self.reply(200, {"ok": ok, "status": code, "sub_status": sub, "message": text,
                                    "in_response_to": msg.in_response_to, "relay_state": one.get("RelayState")})
        msg = samlp.logout_request_from_string(xml)
        self.check_destination(msg, url)
        name_id = STATE["subject"][0] if STATE["subject"] else None
        info = c.handle_logout_request(
            raw, name_id, binding, sign=ARGS.sign_requests, sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256, relay_state=one.get("RelayState"),
            sigalg=one.get("SigAlg"), signature=one.get("Signature"))
        if name_id is not None and msg.name_id is not None and msg.name_id.text == name_id.text:
            STATE["subject"] = None
        return self.send_binding(info, "SAMLResponse", one.get("RelayState", ""))

    @staticmethod
    def check_logout_signature(c, binding, kind, one, xml):
        """Logout messages must be signed (SAML profiles 4.4.4): pysaml2 checks an
        XML signature when there is one but requires none, and never checks the
        Redirect binding's query signature of a LogoutResponse."""
        if binding == BINDING_HTTP_REDIRECT:
            if "Signature" not in one or "SigAlg" not in one:
                raise Rejected(f"unsigned {kind} (no Signature/SigAlg in the query)")
            msg = {k: one[k] for k in (kind, "RelayState", "SigAlg", "Signature") if k in one}
            if not any(verify_redirect_signature(msg, c.sec.sec_backend, cert) for cert in idp_certs(c)):
                raise Rejected(f"the {kind} query signature does not verify with the IdP's metadata keys")
        else:
            parsed = samlp.any_response_from_string(xml) if kind == "SAMLResponse" \
                else samlp.logout_request_from_string(xml)
            if parsed.signature is None:
                raise Rejected(f"unsigned {kind} (no XML signature)")
            c.sec.check_signature(parsed, class_name(parsed), origdoc=xml)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1",
                   help="the host name in the SP's URLs (it listens on 127.0.0.1 whatever the name): "
                        "`localhost` makes it another site than a gateway at 127.0.0.1, for SameSite")
    p.add_argument("--dir", required=True, help="where the keys and metadata files go")
    p.add_argument("--idp-metadata-url", required=True)
    p.add_argument("--sign-requests", action="store_true")
    p.add_argument("--want-response-signed", action="store_true")
    p.add_argument("--encrypt", action="store_true", help="publish an encryption key")
    p.add_argument("--allow-unsolicited", action="store_true", help="accept IdP-initiated responses at the ACS")
    p.add_argument("--authn-sig-alg", choices=sorted(AUTHN_SIG), default="rsa-sha256")
    p.add_argument("--authn-digest", choices=sorted(AUTHN_DIGEST), default="sha256")
    ARGS = p.parse_args()
    ARGS.base = f"http://{ARGS.host}:{ARGS.port}"
    ARGS.entity_id = f"{ARGS.base}/metadata"
    os.makedirs(ARGS.dir, exist_ok=True)
    ARGS.key_file, ARGS.cert_file = make_key_pair(ARGS.dir, "sp-signing", "munjigi-e2e-sp")
    if ARGS.encrypt:
        ARGS.enc_key_file, ARGS.enc_cert_file = make_key_pair(ARGS.dir, "sp-encryption", "munjigi-e2e-sp-enc")
    write_sp_metadata()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print(f"sp listening on {ARGS.base}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

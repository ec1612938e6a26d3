# Prerequisites, installed only when missing (idempotent, quiet when all present).
# Sourced by deploy/run and deploy/test. Debian 12 as root; sudo is used otherwise.

# Debian packages the build needs (openssl-sys: pkg-config + libssl-dev; a C compiler).
# The SAML IdP signs with xmlsec (samael's `xmlsec` feature): the libxml2 and
# xmlsec1 headers it links against, and libclang for its bindgen step.
MUNJIGI_BUILD_PACKAGES=(pkg-config libssl-dev gcc libclang-dev libxml2-dev libxmlsec1-dev)
# Debian packages the tests need beyond the build, when python3 lacks a working venv.
MUNJIGI_TEST_PACKAGES=(python3-venv)
# The xmlsec1 command-line tool: pysaml2 (the SAML test peer) signs and verifies
# through it, and a test checks the gateway's signatures with `xmlsec1 --verify`.
MUNJIGI_XMLSEC_PACKAGES=(xmlsec1)
# A real Redis for the store and replica tests.
MUNJIGI_REDIS_PACKAGES=(redis-server)
# A real browser for the demo test (driven by playwright-core from npm), and
# openid-client (npm) as the device of the Device Authorization Grant test.
# fonts-noto-cjk: Korean glyphs, so screenshots of the Korean pages show text, not boxes.
MUNJIGI_BROWSER_PACKAGES=(chromium fonts-noto-cjk)
# A real nginx in front of the gateway for the forward-auth test (its own
# process and config per test; nginx-light has the auth_request module), and
# wrk for the proxy load measurement.
MUNJIGI_PROXY_PACKAGES=(nginx-light wrk)
# promtool (Debian ships it in the prometheus package): the metrics test checks
# the admin listener's exposition with `promtool check metrics`.
MUNJIGI_METRICS_PACKAGES=(prometheus)
# The openssl command: the deployment test runs deploy/compose/dev-secrets.sh
# (the compose stack's keys and test CA) and serves the configs with them.
MUNJIGI_DEPLOY_PACKAGES=(openssl)
# The real Shibboleth SP (3.4 in Debian 12: shibd and Apache's mod_shib): the
# shibboleth test logs in through it and reads what its attribute map decoded
# (stock, then with deploy/examples' entries). Each test runs its own shibd and
# apache2 on loopback; the packages' system services are never started.
MUNJIGI_SHIBBOLETH_PACKAGES=(apache2 libapache2-mod-shib)
# The peers `./deploy/bench compare` measures the gateway against, beside
# nginx (above): SimpleSAMLphp 1.19 as a SAML IdP under Apache's mod_php with
# opcache (bench only: the tests never need them).
MUNJIGI_BENCH_PACKAGES=(simplesamlphp libapache2-mod-php8.2 php8.2-opcache php8.2-xml php8.2-mbstring)

_munjigi_sudo() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_ensure PKG... : installs the packages that are not installed yet.
apt_ensure() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    # No package may start a system service (nginx on port 80, redis on 6379):
    # the tests run their own. A policy-rc.d answering 101 ("action forbidden")
    # stops invoke-rc.d; one already there (containers) is left as it is.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | _munjigi_sudo tee "$policy" >/dev/null
        _munjigi_sudo chmod 755 "$policy"
        own_policy=1
    fi
    local rc=0
    _munjigi_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
        _munjigi_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        rc=$?
    if [ "$own_policy" -eq 1 ]; then _munjigi_sudo rm -f "$policy"; fi
    return "$rc"
}

ensure_build_prereqs() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo not found: install the Rust toolchain (https://rustup.rs) first" >&2
        exit 1
    fi
    apt_ensure "${MUNJIGI_BUILD_PACKAGES[@]}"
}

# The Python peers of the tests (a real OIDC client library as a site, a real
# SAML service provider) in a venv.
ensure_test_prereqs() {
    ensure_build_prereqs
    # python3-venv is only needed when python3 lacks a working venv module.
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_ensure "${MUNJIGI_TEST_PACKAGES[@]}"
    fi
    local venv="$MUNJIGI_ROOT/deploy/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    apt_ensure "${MUNJIGI_XMLSEC_PACKAGES[@]}"
    if ! "$venv/bin/python" -c 'import authlib, requests, saml2, sd_jwt' >/dev/null 2>&1; then
        echo "installing python test peers (authlib, requests, pysaml2, sd-jwt)" >&2
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$MUNJIGI_ROOT/tests/site/requirements.txt"
    fi
    export MUNJIGI_PYTHON="$venv/bin/python"
    apt_ensure "${MUNJIGI_REDIS_PACKAGES[@]}" "${MUNJIGI_BROWSER_PACKAGES[@]}" "${MUNJIGI_PROXY_PACKAGES[@]}" "${MUNJIGI_METRICS_PACKAGES[@]}" "${MUNJIGI_DEPLOY_PACKAGES[@]}" "${MUNJIGI_SHIBBOLETH_PACKAGES[@]}"
    # Only promtool is wanted: the package's own server (an unauthenticated
    # :9090, the demo's admin port) must not come up at the next boot either.
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        _munjigi_sudo deb-systemd-helper disable prometheus.service >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/prometheus ]; then
        _munjigi_sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
    # Likewise Apache (port 80) and shibd: the Shibboleth test runs its own.
    for service in apache2 shibd; do
        if command -v deb-systemd-helper >/dev/null 2>&1; then
            _munjigi_sudo deb-systemd-helper disable "$service.service" >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1 && [ -e "/etc/init.d/$service" ]; then
            _munjigi_sudo update-rc.d "$service" disable >/dev/null 2>&1 || true
        fi
    done
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_ensure nodejs npm
    fi
    if [ ! -d "$MUNJIGI_ROOT/tests/browser/node_modules/playwright-core" ] \
        || [ ! -d "$MUNJIGI_ROOT/tests/browser/node_modules/axe-core" ]; then
        echo "installing browser test driver (playwright-core) and axe-core" >&2
        (cd "$MUNJIGI_ROOT/tests/browser" && npm ci --silent --no-audit --no-fund)
    fi
    if [ ! -d "$MUNJIGI_ROOT/tests/device/node_modules/openid-client" ]; then
        echo "installing the device grant test's client (openid-client)" >&2
        (cd "$MUNJIGI_ROOT/tests/device" && npm ci --silent --no-audit --no-fund)
    fi
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "installing cargo-nextest" >&2
        cargo install --locked -q cargo-nextest
    fi
}

# What `./deploy/bench compare` needs beyond the tests: SimpleSAMLphp and
# mod_php (Debian), node oidc-provider (npm, tests/peers/oidc-provider). The
# packages' system services stay off: the bench runs its own Apache.
ensure_bench_peers() {
    ensure_test_prereqs
    apt_ensure "${MUNJIGI_BENCH_PACKAGES[@]}"
    # oidc-provider 9 (jose 6, koa 3) needs Node.js 20 or later.
    if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
        echo "the OIDC peer (oidc-provider 9) needs Node.js 20 or later; this machine has $(node --version)" >&2
        exit 1
    fi
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        _munjigi_sudo deb-systemd-helper disable apache2.service >/dev/null 2>&1 || true
    fi
    if [ ! -d "$MUNJIGI_ROOT/tests/peers/oidc-provider/node_modules/oidc-provider" ]; then
        echo "installing the OIDC peer (oidc-provider)" >&2
        (cd "$MUNJIGI_ROOT/tests/peers/oidc-provider" && npm ci --silent --no-audit --no-fund)
    fi
}

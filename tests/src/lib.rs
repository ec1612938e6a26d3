//! End-to-end test harness: the real `munjigi` binary, the provider simulator and
//! a real OIDC client library (Authlib, in Python) as processes on loopback, and a
//! small cookie-keeping browser the tests drive as the citizen.
//!
//! Processes are killed when their handle drops; every wait polls with a deadline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod bench;
pub mod nginx;
pub mod peers;
pub mod saml;
pub mod upstream;
pub mod vc_pki;
pub mod wire;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const SIM_SECRET: &str = "bXVuamlnaS1kZW1vLXNlY3JldC1rZXktMzJieXRlcyE=";
pub const CLIENT_SECRET: &str = "e2e-client-secret-0123456789";
/// The REST API key the simulated Kakao-direct API accepts from the gateway.
pub const KAKAO_DIRECT_KEY: &str = "e2e-kakao-rest-api-key-0123";
/// The gateway's OAuth2 client at the simulated Toss-direct API.
/// The simulator's control API token (`/_control/…`).
pub const SIM_CONTROL_TOKEN: &str = "e2e-sim-control-token-0123";
pub const TOSS_DIRECT_CLIENT_ID: &str = "e2e-toss-client";
pub const TOSS_DIRECT_SECRET: &str = "e2e-toss-client-secret-0123";
/// The simulated bank "kb"'s HMAC key and field key (base64), and the bank
/// "shinhan"'s OAuth2 client secret (family D, declarative providers).
pub const KB_HMAC_KEY: &str = "bXVuamlnaS1lMmUta2ItaG1hYy1rZXk=";
pub const KB_FIELD_KEY: &str = "bXVuamlnaS1lMmUta2ItZmllbGQta2V5LTMyYnl0ZXM=";
pub const SHINHAN_SECRET: &str = "e2e-shinhan-client-secret-0123";

/// The built `munjigi` binary (next to this test's `deps/` folder, or `MUNJIGI_BIN`).
pub fn munjigi_bin() -> PathBuf {
    if let Ok(p) = std::env::var("MUNJIGI_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("munjigi");
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p munjigi` first",
        bin.display()
    );
    bin
}

pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("MUNJIGI_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join("deploy/.venv/bin/python");
    assert!(
        venv.exists(),
        "python test peers missing: run ./deploy/test (it creates deploy/.venv)"
    );
    venv
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A port for a child process to listen on, free when asked.
///
/// Picked at random below the kernel's ephemeral range (32768 and up on
/// Linux): a port the kernel handed out (`bind :0`) and this test released is
/// soon taken again by some test's outgoing connection, before the child
/// binds it ("Address already in use"). Below 22768 a Redis Cluster node's bus
/// port (port + 10000) stays below that range too.
pub fn free_port() -> u16 {
    const LOW: u16 = 10_000;
    const HIGH: u16 = 22_768;
    for _ in 0..1000 {
        let mut r = [0u8; 2];
        openssl::rand::rand_bytes(&mut r).unwrap();
        let port = LOW + u16::from_be_bytes(r) % (HIGH - LOW);
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
    panic!("no free port in {LOW}..{HIGH}");
}

/// Whether the tests run as root (then Apache's and nginx's workers run as
/// www-data and must be able to read what the tests write for them).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n: u64 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let p = std::env::temp_dir().join(format!("munjigi-e2e-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed on drop; its output lines are collected.
pub struct Proc {
    child: Child,
    pub lines: mpsc::Receiver<String>,
    pub name: &'static str,
}

impl Proc {
    /// Starts `cmd` and waits for a stdout line containing `ready` (returns it).
    pub fn start(name: &'static str, mut cmd: Command, ready: &str) -> (Self, String) {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(l);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(ready) => {
                    return (
                        Self {
                            child,
                            lines: rx,
                            name,
                        },
                        l,
                    )
                }
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = child.kill();
                    panic!("{name} did not become ready; output:\n{}", seen.join("\n"));
                }
            }
        }
    }

    /// The process id (for reading its CPU time from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (a rolling restart's stop).
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {}", self.pid());
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed since the last call. The child writes its log
    /// before it answers, but the threads that read its pipes may lag behind
    /// on a loaded machine: collect until the output has been quiet for a
    /// moment (at most a few seconds), so a line written before the answer
    /// the test just got is never missed.
    pub fn drain(&self) -> Vec<String> {
        const QUIET: Duration = Duration::from_millis(250);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut lines = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(QUIET) {
            lines.push(l);
            if Instant::now() > deadline {
                lines.extend(self.lines.try_iter());
                break;
            }
        }
        lines
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the simulated person behaves (the simulator's scenario names).
pub struct Person {
    pub phone: &'static str,
    pub scenario: &'static str,
}

pub struct SimOpts {
    pub approve_after_ms: u64,
    pub people: Vec<Person>,
}

impl Default for SimOpts {
    fn default() -> Self {
        Self {
            approve_after_ms: 300,
            people: vec![
                Person {
                    phone: "010-0000-0001",
                    scenario: "reject",
                },
                Person {
                    phone: "010-0000-0002",
                    scenario: "never",
                },
                Person {
                    phone: "010-0000-0003",
                    scenario: "tamper_content",
                },
                Person {
                    phone: "010-0000-0004",
                    scenario: "wrong_person",
                },
                Person {
                    phone: "010-0000-0005",
                    scenario: "wrong_chain",
                },
                Person {
                    phone: "010-0000-0006",
                    scenario: "unknown",
                },
            ],
        }
    }
}

/// The simulator as a process, with its PKI in `dir/pki`.
pub fn start_simulator(dir: &Path, opts: &SimOpts) -> (Proc, String) {
    let port = free_port();
    let mut toml = format!(
        "listen = \"127.0.0.1:{port}\"\n[simulator]\npki_dir = \"pki\"\napprove_after_ms = {}\nunknown_people = \"approve\"\nkakao_direct_keys = [\"{KAKAO_DIRECT_KEY}\"]\ncontrol_token = \"{SIM_CONTROL_TOKEN}\"\n\
         toss_direct_clients = [{{ client_id = \"{TOSS_DIRECT_CLIENT_ID}\", client_secret = \"{TOSS_DIRECT_SECRET}\" }}]\n\
         [[simulator.relying_parties]]\nlink_id = \"MUNJIGI_E2E\"\nsecret_key = \"{SIM_SECRET}\"\nclient_code = \"023040000001\"\n",
        opts.approve_after_ms
    );
    for p in &opts.people {
        toml.push_str(&format!(
            "[[simulator.people]]\nphone = \"{}\"\nscenario = \"{}\"\n",
            p.phone, p.scenario
        ));
    }
    toml.push_str(&sim_banks_toml());
    let file = dir.join("simulator.toml");
    std::fs::write(&file, toml).unwrap();
    let mut cmd = Command::new(munjigi_bin());
    cmd.arg("simulate")
        .arg("--config")
        .arg(&file)
        .env("MUNJIGI_LOG", "info");
    let (proc, _) = Proc::start("simulator", cmd, "provider simulator listening on");
    (proc, format!("http://127.0.0.1:{port}"))
}

/// Calls the simulator's control API (`POST /_control/{what}` with a JSON body)
/// and returns the HTTP status. Plain HTTP/1.1 on loopback, no client needed.
pub fn sim_control(sim_url: &str, what: &str, body: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let host = sim_url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST /_control/{what} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {SIM_CONTROL_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The pushes the simulated broker made to `phone` (`[{"product", "title"}]`,
/// oldest first), read through the control API.
pub fn sim_pushes(sim_url: &str, phone: &str) -> Vec<serde_json::Value> {
    let addr = sim_url.trim_start_matches("http://");
    let body = format!("{{\"phone\":\"{phone}\"}}");
    let len = format!("Content-Length: {}", body.len());
    let auth = format!("Authorization: Bearer {SIM_CONTROL_TOKEN}");
    let host = format!("Host: {addr}");
    let r = wire::raw_request(
        addr,
        &[
            "POST /_control/pushes HTTP/1.1",
            &host,
            &auth,
            "Content-Type: application/json",
            &len,
            "Connection: close",
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "control: pushes");
    r.json()["pushes"].as_array().cloned().unwrap_or_default()
}

/// Sets a simulated person's scenario at run time through the control API.
pub fn sim_set_scenario(sim_url: &str, phone: &str, scenario: &str) {
    let status = sim_control(
        sim_url,
        "people",
        &format!("{{\"phone\":\"{phone}\",\"scenario\":\"{scenario}\"}}"),
    );
    assert_eq!(status, 200, "control: set {phone} to {scenario}");
}

pub struct GatewayOpts {
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Extra TOML appended (more sites, policies).
    pub extra: String,
    /// Extra keys inside `[server]` (e.g. `trusted_proxies = [...]`).
    pub server_extra: String,
    /// The port to listen on (default: a free one), for configs that name it.
    pub port: Option<u16>,
    pub site_redirect: String,
    pub site_alg: &'static str,
    pub public_client: bool,
    pub login_ttl_secs: u64,
    /// The provider request lifetime (`ttl_secs`; the banks' `max_ttl_secs`),
    /// for expiry tests.
    pub provider_ttl_secs: Option<u32>,
    /// Every provider's HTTP timeout (`timeout_ms`), for hung-provider tests.
    pub provider_timeout_ms: Option<u64>,
    /// Extra keys for `[providers.kakao-direct]` (e.g. `crl = …`).
    pub kakao_direct_extra: String,
    /// Serve the `/demo` sample site (logging in as the `town` client).
    pub demo: bool,
    /// The body of `[limits]`. The default lifts every abuse limit far out of
    /// the way (the suite logs one person in many times from one address);
    /// the limit tests set their own.
    pub limits: String,
    /// Environment for the process (e.g. `MUNJIGI_LOG_FORMAT`), besides
    /// `MUNJIGI_LOG=info`.
    pub env: Vec<(&'static str, String)>,
}

/// `[limits]` that no functional test reaches.
pub const SUITE_LIMITS: &str = "pushes_per_person = [\"100000/10m\"]\nstarts_per_client = [\"1000000/1m\"]\nsubmissions_per_client = [\"1000000/1m\"]\nstarts_per_site = [\"1000000/1s\"]\n";

impl Default for GatewayOpts {
    fn default() -> Self {
        Self {
            tls: None,
            extra: String::new(),
            server_extra: String::new(),
            port: None,
            site_redirect: String::new(),
            site_alg: "ES256",
            public_client: false,
            login_ttl_secs: 600,
            provider_ttl_secs: None,
            provider_timeout_ms: None,
            kakao_direct_extra: String::new(),
            demo: false,
            limits: SUITE_LIMITS.to_owned(),
            env: Vec::new(),
        }
    }
}

pub struct Gateway {
    pub proc: Proc,
    pub url: String,
    pub config: PathBuf,
}

/// The gateway as a process, configured for the simulator at `sim_url`.
pub fn start_gateway(dir: &Path, sim_url: &str, opts: &GatewayOpts) -> Gateway {
    let port = opts.port.unwrap_or_else(free_port);
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{port}");
    let tls = match &opts.tls {
        Some((c, k)) => format!(
            "[server.tls]\ncert_chain = \"{}\"\nkey = \"{}\"\n",
            c.display(),
            k.display()
        ),
        None => String::new(),
    };
    let secret = if opts.public_client {
        String::new()
    } else {
        format!("client_secret = {{ value = \"{CLIENT_SECRET}\" }}\n")
    };
    let toml = format!(
        r#"[server]
public_url = "{url}"
listen = "127.0.0.1:{port}"
login_ttl_secs = {ttl}
{server_extra}
{tls}
[secrets]
pairwise_key = {{ value = "e2e-pairwise-key-0123456789abcdef0123" }}

[limits]
{limits}

[keys]
dir = "keys"
generate_missing = true

[providers.kakao]
type = "barocert"
product = "kakao"
name_ko = "카카오"
name_en = "Kakao"
level = "substantial"
endpoint = "{sim_url}"
auth_endpoint = "{sim_url}"
link_id = "MUNJIGI_E2E"
client_code = "023040000001"
secret_key = {{ value = "{SIM_SECRET}" }}
roots = "pki/kakao/root.pem"
crl = "pki/kakao/crl.pem"
crl_required = true
{provider_ttl}

[providers.naver]
type = "barocert"
product = "naver"
name_ko = "네이버"
name_en = "Naver"
level = "substantial"
endpoint = "{sim_url}"
auth_endpoint = "{sim_url}"
link_id = "MUNJIGI_E2E"
client_code = "023040000001"
secret_key = {{ value = "{SIM_SECRET}" }}
roots = "pki/naver/root.pem"
crl_required = false
call_center_num = "1600-0000"
{provider_ttl}

[providers.pass]
type = "barocert"
product = "pass"
name_ko = "PASS"
name_en = "PASS"
level = "substantial"
endpoint = "{sim_url}"
auth_endpoint = "{sim_url}"
link_id = "MUNJIGI_E2E"
client_code = "023040000001"
secret_key = {{ value = "{SIM_SECRET}" }}
roots = "pki/pass/root.pem"
crl_required = false
call_center_num = "1600-0000"
{provider_ttl}

[providers.toss]
type = "barocert"
product = "toss"
name_ko = "토스"
name_en = "Toss"
level = "substantial"
endpoint = "{sim_url}"
auth_endpoint = "{sim_url}"
link_id = "MUNJIGI_E2E"
client_code = "023040000001"
secret_key = {{ value = "{SIM_SECRET}" }}
roots = "pki/toss/root.pem"
crl_required = false
{provider_ttl}

[providers.kakao-direct]
type = "kakao_direct"
name_ko = "카카오 (직접 연동)"
name_en = "Kakao (direct)"
level = "substantial"
endpoint = "{sim_url}/kakao-direct"
api_key = {{ value = "{KAKAO_DIRECT_KEY}" }}
roots = "pki/kakao-direct/root.pem"
{provider_ttl}
{kakao_direct_extra}

[providers.toss-direct]
type = "toss_direct"
name_ko = "토스 (직접 연동)"
name_en = "Toss (direct)"
level = "substantial"
endpoint = "{sim_url}/toss-direct"
token_endpoint = "{sim_url}/toss-direct/token"
client_id = "{TOSS_DIRECT_CLIENT_ID}"
client_secret = {{ value = "{TOSS_DIRECT_SECRET}" }}
session_public_key = "pki/toss-direct/session-public.pem"
roots = "pki/toss-direct/root.pem"
crl_required = false
{provider_ttl}
{banks}
[policies.standard]
min_level = "substantial"

[sites.town]
name = "구청 민원"
name_en = "Town hall"
policy = "standard"

[sites.town.oidc]
client_id = "town"
{secret}redirect_uris = ["{redirect}"{demo_redirect}]
post_logout_redirect_uris = ["{redirect}/bye"{demo_logout}]
id_token_alg = "{alg}"
{extra}"#,
        ttl = opts.login_ttl_secs,
        redirect = opts.site_redirect,
        alg = opts.site_alg,
        demo_redirect = if opts.demo {
            format!(", \"{url}/demo/callback\"")
        } else {
            String::new()
        },
        demo_logout = if opts.demo {
            format!(", \"{url}/demo\"")
        } else {
            String::new()
        },
        provider_ttl = [
            opts.provider_ttl_secs.map(|t| format!("ttl_secs = {t}")),
            opts.provider_timeout_ms
                .map(|t| format!("timeout_ms = {t}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n"),
        // Only Kakao checks CRLs unless a test asks: the other providers
        // say so (`crl_required = false`), as a config outside the demo must.
        kakao_direct_extra = if opts.kakao_direct_extra.contains("crl") {
            opts.kakao_direct_extra.clone()
        } else {
            format!("crl_required = false\n{}", opts.kakao_direct_extra)
        },
        limits = opts.limits,
        extra = opts.extra,
        server_extra = opts.server_extra,
        banks = {
            let mut api = format!("max_ttl_secs = {}", opts.provider_ttl_secs.unwrap_or(300));
            if let Some(t) = opts.provider_timeout_ms {
                api.push_str(&format!("\ntimeout_ms = {t}"));
            }
            gateway_banks_toml(sim_url).replace("max_ttl_secs = 300", &api)
        },
    );
    let toml = if opts.demo {
        format!("{toml}\n[demo]\nsite = \"town\"\n")
    } else {
        toml
    };
    let file = dir.join("gateway.toml");
    std::fs::write(&file, toml).unwrap();
    let mut cmd = Command::new(munjigi_bin());
    cmd.arg("serve")
        .arg("--config")
        .arg(&file)
        .env("MUNJIGI_LOG", "info")
        .envs(opts.env.iter().map(|(k, v)| (*k, v.as_str())));
    let (proc, _) = Proc::start("gateway", cmd, "munjigi listening on");
    Gateway {
        proc,
        url,
        config: file,
    }
}

/// Another replica of the gateway configured by `config` (same issuer, keys
/// and store), on its own port, its config written beside as
/// `gateway-{name}.toml`. Returns the process and `http://127.0.0.1:PORT`.
pub fn start_replica(config: &Path, name: &str) -> (Proc, String) {
    let port = free_port();
    let text = std::fs::read_to_string(config).unwrap();
    let listen = text
        .lines()
        .find(|l| l.starts_with("listen = "))
        .unwrap()
        .to_owned();
    let text = text.replace(&listen, &format!("listen = \"127.0.0.1:{port}\""));
    let file = config.with_file_name(format!("gateway-{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new(munjigi_bin());
    cmd.arg("serve").arg("--config").arg(&file);
    let (p, _) = Proc::start("replica", cmd, "munjigi listening on");
    (p, format!("http://127.0.0.1:{port}"))
}

/// The Python site (Authlib) on its own port.
pub struct Site {
    pub proc: Proc,
    pub url: String,
    pub redirect_uri: String,
}

pub fn site_port_and_redirect() -> (u16, String) {
    let port = free_port();
    (port, format!("http://127.0.0.1:{port}/callback"))
}

pub fn start_site(port: u16, issuer: &str, auth_method: &str, ca: Option<&Path>) -> Site {
    start_site_as("town", port, issuer, auth_method, ca)
}

/// [`start_site`] as OIDC client `client_id` (with the suite's secret).
pub fn start_site_as(
    client_id: &str,
    port: u16,
    issuer: &str,
    auth_method: &str,
    ca: Option<&Path>,
) -> Site {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/site/oidc_site.py"))
        .args([
            "--issuer",
            issuer,
            "--client-id",
            client_id,
            "--auth-method",
            auth_method,
        ])
        .args(["--port", &port.to_string()]);
    if auth_method != "none" {
        cmd.args(["--client-secret", CLIENT_SECRET]);
    }
    if let Some(ca) = ca {
        cmd.arg("--ca").arg(ca);
    }
    let (proc, _) = Proc::start("site", cmd, "site listening on");
    Site {
        proc,
        url: format!("http://127.0.0.1:{port}"),
        redirect_uri: format!("http://127.0.0.1:{port}/callback"),
    }
}

/// The Python site authenticating with `private_key_jwt`: `key_pem` is its
/// RSA private key (PEM file), `kid` the key's id in the JWK Set the gateway has.
pub fn start_site_private_key_jwt(port: u16, issuer: &str, key_pem: &Path, kid: &str) -> Site {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/site/oidc_site.py"))
        .args(["--issuer", issuer, "--client-id", "town"])
        .args(["--auth-method", "private_key_jwt", "--client-key-id", kid])
        .arg("--client-key")
        .arg(key_pem)
        .args(["--port", &port.to_string()]);
    let (proc, _) = Proc::start("site", cmd, "site listening on");
    Site {
        proc,
        url: format!("http://127.0.0.1:{port}"),
        redirect_uri: format!("http://127.0.0.1:{port}/callback"),
    }
}

/// One HTTP response as the browser saw it.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    /// The value of `<input name="NAME" ... value="V">`.
    pub fn input_value(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\"");
        let at = self.body.find(&marker)?;
        let start = self.body[..at].rfind('<')?;
        let end = at + self.body[at..].find('>')?;
        let tag = &self.body[start..end];
        let v = tag.split("value=\"").nth(1)?;
        Some(html_unescape(&v[..v.find('"')?]))
    }
}

/// Undoes HTML escaping as askama and the SP libraries write it (named and
/// decimal references alike).
pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// A cookie-keeping HTTP client that does not follow redirects by itself.
pub struct Browser {
    client: Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    cookies: HashMap<String, String>,
    pub accept_language: &'static str,
    /// The `Accept` header sent with every request (none by default); see
    /// [`Browser::navigating`].
    pub accept: Option<&'static str>,
    /// Headers sent with every request (none by default), e.g. a `traceparent`.
    pub always: Vec<(String, String)>,
    /// Requests sent so far (the benches count requests per login).
    pub requests: usize,
}

impl Browser {
    pub fn new(ca_pem: Option<&[u8]>) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(pem) = ca_pem {
            use rustls_pki_types::pem::PemObject as _;
            for c in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                roots.add(c.unwrap()).unwrap();
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let conn = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            // Idle connections are dropped before the gateway's own idle
            // close (its header read timeout, 10 s), so a request never
            // races the server closing the connection it reuses.
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(conn),
            cookies: HashMap::new(),
            accept_language: "ko-KR",
            accept: None,
            always: Vec::new(),
            requests: 0,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<&String> {
        self.cookies.get(name)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    pub fn remove_cookie(&mut self, name: &str) -> Option<String> {
        self.cookies.remove(name)
    }

    pub fn forget_cookies(&mut self) {
        self.cookies.clear();
    }

    /// Sends `Accept: text/html` from now on, as a browser's navigation does.
    pub fn navigating(mut self) -> Self {
        self.accept = Some("text/html,application/xhtml+xml,*/*;q=0.8");
        self
    }

    /// The `Cookie` header this browser would send (`name=value; …`).
    pub fn cookie_header_value(&self) -> String {
        self.cookie_header()
    }

    pub async fn request(
        &mut self,
        method: http::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        self.request_with(method, url, form, &[]).await
    }

    /// As [`Browser::request`], with `headers` added (after the browser's own;
    /// a `cookie` given here is sent in addition to the jar's).
    pub async fn request_with(
        &mut self,
        method: http::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut b = http::Request::builder()
            .method(method)
            .uri(url)
            .header("accept-language", self.accept_language);
        if let Some(a) = self.accept {
            b = b.header("accept", a);
        }
        if !self.cookies.is_empty() {
            b = b.header("cookie", self.cookie_header());
        }
        for (k, v) in &self.always {
            b = b.header(k.as_str(), v.as_str());
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let body = match form {
            Some(pairs) => {
                b = b.header("content-type", "application/x-www-form-urlencoded");
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in pairs {
                    s.append_pair(k, v);
                }
                Bytes::from(s.finish())
            }
            None => Bytes::new(),
        };
        self.requests += 1;
        let resp = tokio::time::timeout(
            Duration::from_secs(40),
            self.client.request(b.body(Full::new(body)).unwrap()),
        )
        .await
        .unwrap_or_else(|_| panic!("timeout: {url}"))
        .unwrap_or_else(|e| panic!("request to {url} failed: {e:?}"));
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers
            .get("location")
            .map(|l| absolute(url, l.to_str().unwrap()));
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        Page {
            status,
            location,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        self.request(http::Method::GET, url, None).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        self.request(http::Method::POST, url, Some(form)).await
    }

    /// GETs `url` and follows redirects (303/302) until a non-redirect page.
    pub async fn follow(&mut self, url: &str) -> (Page, String) {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let p = self.get(&url).await;
            match &p.location {
                Some(l) if (300..400).contains(&p.status) => url = l.clone(),
                _ => return (p, url),
            }
        }
        panic!("too many redirects from {url}");
    }
}

/// Resolves a Location against the request URL.
pub fn absolute(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_owned();
    }
    let scheme_end = base.find("://").unwrap() + 3;
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}{loc}", &base[..host_end])
}

/// The citizen's side of a login, from the chooser to the provider push.
pub struct Citizen<'a> {
    pub name: &'a str,
    pub birthdate: &'a str,
    pub phone: &'a str,
}

pub const HONG: Citizen<'static> = Citizen {
    name: "홍길동",
    birthdate: "1990-01-31",
    phone: "010-1234-5678",
};

/// From the chooser page URL: picks Kakao, fills the form, returns the waiting page URL.
pub async fn pick_and_submit(b: &mut Browser, chooser_url: &str, who: &Citizen<'_>) -> String {
    pick_provider_and_submit(b, chooser_url, "kakao", who).await
}

/// From the chooser page URL: picks `provider`, fills the form, returns the
/// waiting page URL.
pub async fn pick_provider_and_submit(
    b: &mut Browser,
    chooser_url: &str,
    provider: &str,
    who: &Citizen<'_>,
) -> String {
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let form = b.get(&format!("{base}/identify?provider={provider}")).await;
    assert_eq!(form.status, 200, "identify page: {}", form.body);
    let r = post_identity(b, &base, &form, provider, who, &[]).await;
    assert_eq!(r.status, 303, "start: {}", r.body);
    r.location.unwrap()
}

/// Posts the identity form `form` (the page of `{base}/identify`) for
/// `provider` as `who`, consenting, with `extra` fields added; the
/// gateway's answer.
pub async fn post_identity(
    b: &mut Browser,
    base: &str,
    form: &Page,
    provider: &str,
    who: &Citizen<'_>,
    extra: &[(&str, &str)],
) -> Page {
    let csrf = form.input_value("csrf").expect("csrf input");
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("provider", provider),
        ("name", who.name),
        ("birthdate", who.birthdate),
        ("phone", who.phone),
        ("consent", "yes"),
    ];
    fields.extend_from_slice(extra);
    b.post(&format!("{base}/start"), &fields).await
}

/// Polls the status endpoint until the login leaves pending; returns the JSON.
pub async fn wait_done(b: &mut Browser, login_base: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = b.get(&format!("{login_base}/status?wait=5")).await;
        assert_eq!(s.status, 200, "status: {}", s.body);
        let j = s.json();
        let st = j["state"].as_str().unwrap().to_owned();
        if st != "pending" && st != "viewed" {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "login still pending at the deadline"
        );
    }
}

/// A test CA and a server certificate for 127.0.0.1 (for the HTTPS test).
pub fn tls_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{
        AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage,
        SubjectAlternativeName, SubjectKeyIdentifier,
    };
    use openssl::x509::{X509NameBuilder, X509};
    let name = |cn: &str| {
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_text("CN", cn).unwrap();
        n.build()
    };
    let ca_key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut ca = X509::builder().unwrap();
    ca.set_version(2).unwrap();
    ca.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    ca.set_subject_name(&name("munjigi e2e test CA")).unwrap();
    ca.set_issuer_name(&name("munjigi e2e test CA")).unwrap();
    ca.set_pubkey(&ca_key).unwrap();
    ca.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    ca.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    ca.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&ca.x509v3_context(None, None))
        .unwrap();
    ca.append_extension(ski).unwrap();
    ca.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = ca.build();
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut leaf = X509::builder().unwrap();
    leaf.set_version(2).unwrap();
    leaf.set_serial_number(&BigNum::from_u32(2).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    leaf.set_subject_name(&name("127.0.0.1")).unwrap();
    leaf.set_issuer_name(ca.subject_name()).unwrap();
    leaf.set_pubkey(&key).unwrap();
    leaf.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    leaf.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&leaf.x509v3_context(Some(&ca), None))
        .unwrap();
    leaf.append_extension(san).unwrap();
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&leaf.x509v3_context(Some(&ca), None))
        .unwrap();
    leaf.append_extension(aki).unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&leaf.x509v3_context(Some(&ca), None))
        .unwrap();
    leaf.append_extension(ski).unwrap();
    leaf.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()
            .unwrap(),
    )
    .unwrap();
    leaf.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
        .unwrap();
    leaf.append_extension(BasicConstraints::new().build().unwrap())
        .unwrap();
    leaf.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let leaf = leaf.build();
    let chain = dir.join("chain.pem");
    let mut pem = leaf.to_pem().unwrap();
    pem.extend(ca.to_pem().unwrap());
    std::fs::write(&chain, pem).unwrap();
    let keyf = dir.join("key.pem");
    std::fs::write(&keyf, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let caf = dir.join("ca.pem");
    std::fs::write(&caf, ca.to_pem().unwrap()).unwrap();
    (chain, keyf, caf)
}

/// The simulator's two banks (family D): "kb" (HMAC, encrypted fields) and
/// "shinhan" (bearer token, `data` envelope).
pub fn sim_banks_toml() -> String {
    format!(
        "[[simulator.banks]]\nname = \"kb\"\nlabel = \"KB국민은행\"\ndialect = \"flat_encrypted\"\n\
         auth = {{ scheme = \"hmac\", header = \"x-kb-signature\", date_header = \"x-kb-date\", key = \"{KB_HMAC_KEY}\" }}\n\
         field_key = \"{KB_FIELD_KEY}\"\n\
         [[simulator.banks]]\nname = \"shinhan\"\nlabel = \"신한은행\"\ndialect = \"enveloped\"\n\
         auth = {{ scheme = \"bearer\", client_id = \"munjigi\", client_secret = \"{SHINHAN_SECRET}\" }}\n"
    )
}

/// `[providers.kb]` and `[providers.shinhan]`: declarative descriptions only,
/// as in `deploy/demo/gateway.toml`.
pub fn gateway_banks_toml(sim_url: &str) -> String {
    const KB: &str = r##"[providers.kb]
type = "declarative"
name_ko = "KB국민인증서"
name_en = "KB Kookmin Bank"
level = "substantial"
roots = "pki/bank-kb/root.pem"
crl_required = false
secrets = { hmac_key = { value = "{KB_HMAC_KEY}" }, field_key = { value = "{KB_FIELD_KEY}" } }

[providers.kb.api]
base_url = "{SIM}/bank/kb"
max_ttl_secs = 300
auth = { scheme = "hmac", header = "x-kb-signature", date_header = "x-kb-date", key = "hmac_key", signed = ["method", "path", "date", "body_sha256"] }
encryption = { key = "field_key" }

[providers.kb.api.start]
method = "POST"
path = "/v1/auth/requests"
request = [
  { from = "name", to = "userNm", encrypted = true },
  { from = "birthdate", to = "birthDt", encrypted = true },
  { from = "phone", to = "telNo", encrypted = true },
  { from = "nonce", to = "signTarget" },
  { from = "ttl_secs", to = "expiresIn" },
  { from = "title", to = "title" },
]
handle = "txId"
app_scheme = "appLink"

[providers.kb.api.status]
method = "GET"
path = "/v1/auth/requests/{handle}"
state = "stateCd"
states = { "0" = "pending", "1" = "viewed", "2" = "completed", "3" = "rejected", "4" = "expired" }

[providers.kb.api.result]
method = "POST"
path = "/v1/auth/requests/{handle}/result"
signed_data = "signedData"
ci = "ci"
name = "userNm"
birthdate = "birthDt"
phone = "telNo"
gender = "genderCd"
encrypted = ["ci", "name", "birthdate", "phone"]

[providers.kb.api.errors]
code = "errCd"
message = "errMsg"
codes = { K0401 = "unauthorized", K1001 = "unknown_person", K1002 = "person_mismatch", K1003 = "account_unusable", K2002 = "not_ready", K2003 = "already_used", K9000 = "unavailable", K9999 = "unavailable" }
"##;
    const SHINHAN: &str = r##"[providers.shinhan]
type = "declarative"
name_ko = "신한인증서"
name_en = "Shinhan Bank"
level = "substantial"
roots = "pki/bank-shinhan/root.pem"
crl_required = false
secrets = { client_secret = { value = "{SHINHAN_SECRET}" } }

[providers.shinhan.api]
base_url = "{SIM}/bank/shinhan"
max_ttl_secs = 300
auth = { scheme = "bearer", token_path = "/oauth/token", client_id = "munjigi", client_secret = "client_secret", token = "access_token", expires_in = "expires_in" }

[providers.shinhan.api.start]
method = "POST"
path = "/api/v2/identity"
request = [
  { from = "name", to = "name" },
  { from = "birthdate_iso", to = "birthday" },
  { from = "phone_e164", to = "mobileNo" },
  { from = "nonce", to = "challenge" },
  { from = "ttl_secs", to = "expiresInSec" },
  { from = "title", to = "displayTitle" },
]
handle = "data.transactionId"
app_scheme = "data.deeplink"

[providers.shinhan.api.status]
method = "GET"
path = "/api/v2/identity/{handle}"
state = "data.status"
states = { REQUESTED = "pending", OPENED = "viewed", SIGNED = "completed", DECLINED = "rejected", TIMEOUT = "expired" }

[providers.shinhan.api.result]
method = "POST"
path = "/api/v2/identity/{handle}/result"
signed_data = "data.signature"
ci = "data.person.ci"
name = "data.person.name"
birthdate = "data.person.birthday"
phone = "data.person.mobileNo"
gender = "data.person.gender"

[providers.shinhan.api.errors]
code = "error.code"
message = "error.message"
codes = { UNAUTHORIZED = "unauthorized", USER_NOT_FOUND = "unknown_person", USER_MISMATCH = "person_mismatch", USER_SUSPENDED = "account_unusable", TX_NOT_SIGNED = "not_ready", TX_ALREADY_READ = "already_used", INTERNAL_ERROR = "unavailable", SERVICE_MAINTENANCE = "unavailable" }
"##;
    format!("{KB}\n{SHINHAN}")
        .replace("{SIM}", sim_url)
        .replace("{KB_HMAC_KEY}", KB_HMAC_KEY)
        .replace("{KB_FIELD_KEY}", KB_FIELD_KEY)
        .replace("{SHINHAN_SECRET}", SHINHAN_SECRET)
}

/// A simulator, a gateway offering every provider, and the Authlib site, for one test.
pub struct World {
    pub dir: TempDir,
    pub sim: Proc,
    pub sim_url: String,
    pub gw: Gateway,
    pub site: Site,
    /// The site's registered redirect URI.
    pub redirect: String,
}

/// Starts a [`World`]; `tag` names its temporary folder.
pub fn world(tag: &str) -> World {
    world_with(tag, "")
}

/// A `[providers.mobile-id]` section for the simulator's push server and
/// its `pki/mobile-id/` material (QR only when `push` is false).
pub fn mobile_id_toml(sim_url: &str, push: bool) -> String {
    let push = if push {
        format!(
            "push_url = \"{sim_url}/mobile-id/api/sendVPAPI.do\"\nmscode = \"{}\"\n",
            munjigi_sim::simulator::MOBILE_ID_MSCODE
        )
    } else {
        String::new()
    };
    format!(
        r#"
[providers.mobile-id]
type = "mobile_id"
name_ko = "모바일 신분증"
name_en = "Mobile ID"
level = "high"
{push}sp_did = "{sp}"
sp_key_id = "{key_id}"
sp_key = {{ file = "pki/mobile-id/sp-key.pem" }}
seal_key = {{ file = "pki/mobile-id/seal-key.pem" }}
service_name = "구청 민원 로그인"
sp_name = "구청"
sp_code = "SIMSP01"
svc_code = "LOGIN01"
issuers = ["{issuer}"]
credentials = [{{ code = "{cred}", name = "모바일 운전면허증" }}]
trust_list = "pki/mobile-id/trust.json"
ttl_secs = 120
"#,
        sp = munjigi_sim::simulator::MOBILE_ID_SP_DID,
        key_id = munjigi_sim::simulator::MOBILE_ID_SP_KEY_ID,
        issuer = munjigi_sim::simulator::MOBILE_ID_ISSUER,
        cred = munjigi_sim::simulator::MOBILE_ID_CREDENTIAL,
    )
}

/// Runs one of the Python issuers and wallets in `tests/wallet/` with `req`
/// on stdin; its JSON answer (it must succeed).
pub fn wallet_script(script: &str, req: &serde_json::Value) -> serde_json::Value {
    use std::io::Write as _;
    let mut child = std::process::Command::new(python())
        .arg(repo_root().join("tests/wallet").join(script))
        .env("PYTHONPATH", repo_root().join("tests/wallet"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A `type = "openid4vp"` provider `wallet` trusting the simulator's test
/// issuer, signing requests with the simulator's verifier certificate (for
/// 127.0.0.1 and localhost), as in `deploy/demo/gateway.toml`.
pub fn openid4vp_toml() -> String {
    format!(
        r#"
[providers.wallet]
type = "openid4vp"
name_ko = "디지털 지갑"
name_en = "Digital wallet"
level = "high"
certificate = "pki/openid4vp/verifier.pem"
key = {{ file = "pki/openid4vp/verifier-key.pem" }}
credentials = [{{ vct = "{vct}", anchors = "pki/openid4vp/issuer-ca.pem" }}]
ttl_secs = 120
"#,
        vct = munjigi_sim::simulator::OID4VP_VCT,
    )
}

/// The dark modules of the `qrcode` crate's SVG (`M{x} {y}h{w}v{h}H{x}V{y}`
/// per rectangle), as a grey image rqrr reads.
pub fn read_qr_svg(svg: &str) -> String {
    let size: usize = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|w| w.parse().ok())
        .expect("a viewBox");
    let d = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![false; size * size];
    for seg in d.split('M').filter(|s| !s.is_empty()) {
        let nums: Vec<usize> = seg
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (x, y, w, h) = (nums[0], nums[1], nums[2], nums[3]);
        for yy in y..y + h {
            for xx in x..x + w {
                dark[yy * size + xx] = true;
            }
        }
    }
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| {
        if dark[y * size + x] {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the SVG");
    grids[0].decode().expect("the QR code decodes").1
}

/// A [`World`] whose gateway config has `extra` appended.
pub fn world_with(tag: &str, extra: &str) -> World {
    world_with_sim(tag, |_| extra.to_owned())
}

/// A [`World`] whose gateway config has `extra(sim_url)` appended (sections
/// that name the simulator).
pub fn world_with_sim(tag: &str, extra: impl FnOnce(&str) -> String) -> World {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            extra: extra(&sim_url),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(port, &gw.url, "client_secret_basic", None);
    World {
        dir,
        sim,
        sim_url,
        gw,
        site,
        redirect,
    }
}

/// A fresh browser goes from the site through `provider` up to the provider's
/// outcome; the chooser must show every display name in `listed`. Returns the
/// browser, the login's base URL and the final status JSON.
pub async fn until_outcome_via(
    w: &World,
    provider: &str,
    listed: &[&str],
    who: &Citizen<'_>,
) -> (Browser, String, serde_json::Value) {
    let mut b = Browser::new(None);
    let (chooser, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
    for name in listed {
        assert!(chooser.body.contains(name), "chooser lists {name}");
    }
    let wait_url = pick_provider_and_submit(&mut b, &chooser_url, provider, who).await;
    let base = wait_url.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    (b, base, done)
}

/// A whole login through `provider` (see [`until_outcome_via`]); returns the site's JSON.
pub async fn login_via(
    w: &World,
    provider: &str,
    listed: &[&str],
    who: &Citizen<'_>,
) -> serde_json::Value {
    let (mut b, base, done) = until_outcome_via(w, provider, listed, who).await;
    assert_eq!(done["state"], "completed", "{provider}: {done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "{provider} site callback: {}", page.body);
    page.json()
}

/// A real `redis-server` on loopback, killed on drop.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` on `port` with `extra` arguments (persistence, cluster
/// mode, a data folder) and waits until it accepts connections.
pub fn start_redis_on(port: u16, extra: &[&std::ffi::OsStr]) -> Redis {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (./deploy/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Redis { child, port }
}

/// Arguments for a throw-away Redis: nothing written to disk.
pub fn no_persistence() -> Vec<&'static std::ffi::OsStr> {
    ["--save", "", "--appendonly", "no"]
        .map(std::ffi::OsStr::new)
        .to_vec()
}

/// A throw-away Redis on a free port.
pub fn start_redis() -> Redis {
    start_redis_on(free_port(), &no_persistence())
}

/// One `redis-cli` command against the Redis on `port`; its trimmed output.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "redis-cli {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A real 3-master Redis Cluster (`redis-cli --cluster create`), killed on drop.
pub struct RedisCluster {
    _nodes: Vec<Redis>,
    _dir: TempDir,
    /// One node's port: clients discover the rest from it.
    pub seed: u16,
}

pub fn start_cluster() -> RedisCluster {
    let dir = TempDir::new("cluster");
    let mut nodes = Vec::new();
    for i in 0..3 {
        let node_dir = dir.path().join(format!("n{i}"));
        std::fs::create_dir_all(&node_dir).unwrap();
        let conf = node_dir.join("nodes.conf");
        let mut args = no_persistence();
        args.extend(
            ["--cluster-enabled", "yes", "--cluster-config-file"].map(std::ffi::OsStr::new),
        );
        args.push(conf.as_os_str());
        args.push(std::ffi::OsStr::new("--dir"));
        args.push(node_dir.as_os_str());
        nodes.push(start_redis_on(free_port(), &args));
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cluster create: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    for n in &nodes {
        let ok = || {
            let info = Command::new("redis-cli")
                .args(["-p", &n.port.to_string(), "cluster", "info"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok")
        };
        while !ok() {
            assert!(Instant::now() < deadline, "cluster not ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let seed = nodes[0].port;
    RedisCluster {
        _nodes: nodes,
        _dir: dir,
        seed,
    }
}

/// The origin (`scheme://authority`) of a URL.
pub fn origin_of(url: &str) -> String {
    let scheme_end = url.find("://").unwrap() + 3;
    let end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    url[..end].to_owned()
}

/// One whole login through the identity-aware proxy, as a browser navigating to
/// `start_url` (a URL on a route) with no proxy session: the route's redirect to
/// the gateway's `/proxy/start`, the chooser at `gateway_url` (skipped when the
/// browser's gateway session suffices), Kakao for [`HONG`], the callback on the
/// route's origin, and back to `start_url`. Returns that final, proxied page.
pub async fn proxy_login(b: &mut Browser, gateway_url: &str, start_url: &str) -> Page {
    proxy_login_as(b, gateway_url, start_url, &HONG).await
}

/// [`proxy_login`] as `who`.
pub async fn proxy_login_as(
    b: &mut Browser,
    gateway_url: &str,
    start_url: &str,
    who: &Citizen<'_>,
) -> Page {
    let nav = b.accept.is_none();
    if nav {
        b.accept = Some("text/html,application/xhtml+xml,*/*;q=0.8");
    }
    let route_origin = origin_of(start_url);
    let mut first = b.get(start_url).await;
    // A front proxy (nginx) first sends the browser to its own /.munjigi/login.
    for _ in 0..2 {
        match &first.location {
            Some(l) if l.starts_with(&format!("{route_origin}/.munjigi/login?")) => {
                let l = l.clone();
                first = b.get(&l).await;
            }
            _ => break,
        }
    }
    assert_eq!(
        first.status, 303,
        "navigation without a session goes to the gateway: {first:?}"
    );
    let start = first.location.clone().unwrap();
    assert!(
        start.starts_with(&format!("{gateway_url}/proxy/start?")),
        "to /proxy/start: {start}"
    );
    assert!(b.cookie("mj_pxst").is_some(), "state cookie set: {first:?}");
    let r = b.get(&start).await;
    assert_eq!(r.status, 303, "/proxy/start: {r:?}");
    let mut next = r.location.clone().unwrap();
    if !next.contains("/.munjigi/callback") {
        let (chooser, chooser_url) = b.follow(&next).await;
        assert_eq!(chooser.status, 200, "chooser: {}", chooser.body);
        assert!(
            chooser_url.starts_with(&format!("{gateway_url}/login/")),
            "chooser at the gateway: {chooser_url}"
        );
        let wait_url = pick_provider_and_submit(b, &chooser_url, "kakao", who).await;
        let base = wait_url.trim_end_matches("/wait").to_owned();
        let done = wait_done(b, &base).await;
        assert_eq!(done["state"], "completed", "{done}");
        let cont = b
            .get(&absolute(&base, done["next"].as_str().unwrap()))
            .await;
        assert_eq!(cont.status, 303, "continue: {cont:?}");
        next = cont.location.clone().unwrap();
    }
    assert!(
        next.starts_with(&format!("{route_origin}/.munjigi/callback?")),
        "back to the route's callback: {next}"
    );
    let cb = b.get(&next).await;
    assert_eq!(cb.status, 303, "callback: {cb:?}");
    assert!(b.cookie("mj_px").is_some(), "proxy session cookie: {cb:?}");
    let set = cb
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("mj_px="))
        .unwrap();
    let attrs: Vec<String> = set
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for want in ["httponly", "samesite=lax", "path=/"] {
        assert!(attrs.iter().any(|a| a == want), "mj_px has {want}: {set}");
    }
    let back = cb.location.clone().unwrap();
    assert_eq!(back, start_url, "back where the citizen started");
    let page = b.get(&back).await;
    if nav {
        b.accept = None;
    }
    page
}

/// A JWT's three parts decoded: header JSON, claims JSON, signature bytes, and
/// the signed input (`header.claims`).
pub fn jwt_parts(jwt: &str) -> (serde_json::Value, serde_json::Value, Vec<u8>, String) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {jwt}");
    let header = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let claims = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    let sig = b64.decode(parts[2]).unwrap();
    (header, claims, sig, format!("{}.{}", parts[0], parts[1]))
}

/// Verifies an ES256 JWT against the JWK Set `jwks` (by `kid`) with OpenSSL and
/// returns its claims; panics on any mismatch.
pub fn verify_es256(jwt: &str, jwks: &serde_json::Value) -> serde_json::Value {
    use base64::Engine as _;
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::ecdsa::EcdsaSig;
    use openssl::nid::Nid;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, claims, sig, signed) = jwt_parts(jwt);
    assert_eq!(header["alg"], "ES256", "{header}");
    let kid = header["kid"].as_str().expect("kid in the header");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} in {jwks}"));
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    let x = BigNum::from_slice(&b64.decode(jwk["x"].as_str().unwrap()).unwrap()).unwrap();
    let y = BigNum::from_slice(&b64.decode(jwk["y"].as_str().unwrap()).unwrap()).unwrap();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y).unwrap();
    let _ = BigNumContext::new();
    assert_eq!(sig.len(), 64, "ES256 signature is r||s");
    let r = BigNum::from_slice(&sig[..32]).unwrap();
    let s = BigNum::from_slice(&sig[32..]).unwrap();
    let sig = EcdsaSig::from_private_components(r, s).unwrap();
    let digest = openssl::sha::sha256(signed.as_bytes());
    assert!(
        sig.verify(&digest, &key).unwrap(),
        "the signature verifies with {kid}"
    );
    claims
}

/// A site calling the gateway's JSON API (`/api/v1/…`): `authorization` is the
/// header as sent (`Basic …` or `Bearer …`); the answer's status and JSON
/// (`Null` when the body is not JSON).
pub async fn site_api(
    method: &str,
    url: &str,
    authorization: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let c: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(ToString::to_string).unwrap_or_default(),
        )))
        .unwrap();
    let resp = c.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// `Basic base64(id:secret)`.
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    )
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    openssl::sha::sha256(bytes)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A compact ES256 JWS (raw r||s signature) of `claims` under `header`,
/// signed with `key` by OpenSSL: client assertions and login hints made by
/// the test, independent of the gateway's JOSE library.
pub fn es256_jws(
    key: &openssl::ec::EcKey<openssl::pkey::Private>,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> String {
    use base64::Engine as _;
    let b64u = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let signed = format!(
        "{}.{}",
        b64u(header.to_string().as_bytes()),
        b64u(claims.to_string().as_bytes())
    );
    let digest = openssl::sha::sha256(signed.as_bytes());
    let sig = openssl::ecdsa::EcdsaSig::sign(&digest, key).unwrap();
    let mut raw = sig.r().to_vec_padded(32).unwrap();
    raw.extend(sig.s().to_vec_padded(32).unwrap());
    format!("{signed}.{}", b64u(&raw))
}

/// A new P-256 key: the key, its public JWK (with `kid`), and its private
/// key as PKCS#8 PEM written to `pem`.
pub fn ec_site_key(
    pem: &Path,
    kid: &str,
) -> (
    openssl::ec::EcKey<openssl::pkey::Private>,
    serde_json::Value,
) {
    use base64::Engine as _;
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey};
    let b64u = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let group = EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec = EcKey::generate(&group).unwrap();
    let mut x = BigNum::new().unwrap();
    let mut y = BigNum::new().unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    ec.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
        .unwrap();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid,
        "x": b64u(&x.to_vec_padded(32).unwrap()), "y": b64u(&y.to_vec_padded(32).unwrap()),
    });
    let pkey = openssl::pkey::PKey::from_ec_key(ec.clone()).unwrap();
    std::fs::write(pem, pkey.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (ec, jwk)
}

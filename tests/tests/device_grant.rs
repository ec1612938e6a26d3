//! The Device Authorization Grant (RFC 8628) end to end: a real OpenID
//! Connect client library (node openid-client 6, `tests/device/`) is the
//! device; the citizen types its code at `/device` in the harness browser,
//! confirms the site and logs in through the chooser and the simulator.
//!
//! Also refused as RFC 8628 says: a site not allowed the grant, polling
//! faster than the interval (`slow_down`, and the interval grows), the
//! citizen cancelling (`access_denied`), an expired code (`expired_token`),
//! a device code redeemed twice (`invalid_grant`, and the first tokens
//! revoked); and wrong user codes typed many times (429, a log line).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `town` (confidential, the grant allowed), `kiosk` (public, the grant
/// allowed, codes of 10 s) and `plain` (the grant not allowed).
const SITES: &str = r#"device_grant = true

[sites.kiosk]
name = "민원 키오스크"
name_en = "Kiosk"
policy = "standard"
[sites.kiosk.oidc]
client_id = "kiosk"
redirect_uris = ["http://127.0.0.1:9/cb"]
device_grant = true
device_code_ttl_secs = 10

[sites.plain]
name = "일반 사이트"
name_en = "Plain site"
policy = "standard"
[sites.plain.oidc]
client_id = "plain"
client_secret = { value = "plain-secret-0123456789" }
redirect_uris = ["http://127.0.0.1:9/cb"]
"#;

struct World {
    _dir: TempDir,
    _sim: Proc,
    gw: Gateway,
}

fn world(tag: &str, limits: &str) -> World {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: SITES.to_owned(),
            limits: format!("{SUITE_LIMITS}{limits}"),
            ..GatewayOpts::default()
        },
    );
    World {
        _dir: dir,
        _sim: sim,
        gw,
    }
}

/// openid-client as the device, its JSON lines as they come.
struct Device {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Device {
    fn start(issuer: &str, client_id: &str, secret: Option<&str>) -> Self {
        let root = repo_root().join("tests/device");
        assert!(
            root.join("node_modules/openid-client").exists(),
            "openid-client missing: ./deploy/test installs it (npm ci in tests/device)"
        );
        let mut cmd = Command::new("node");
        cmd.arg(root.join("device_flow.mjs"))
            .arg(issuer)
            .arg(client_id)
            .current_dir(&root)
            .stdout(Stdio::piped());
        if let Some(s) = secret {
            cmd.arg(s);
        }
        let mut child = cmd.spawn().expect("node");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Device { child, lines }
    }

    fn next(&self, within: Duration) -> serde_json::Value {
        self.lines
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("the device said nothing within {within:?}"))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The citizen opens `verification_uri_complete` and asks for the code:
/// returns the confirmation page and the form's CSRF token.
async fn type_code(b: &mut Browser, complete: &str, code: &str) -> (Page, String) {
    let form = b.get(complete).await;
    assert_eq!(form.status, 200, "device page: {}", form.body);
    assert_eq!(form.input_value("user_code").as_deref(), Some(code));
    let csrf = form.input_value("csrf").expect("csrf");
    let url = complete.split('?').next().unwrap();
    let confirm = b
        .post(
            url,
            &[("csrf", &csrf), ("user_code", code), ("action", "look")],
        )
        .await;
    assert_eq!(confirm.status, 200, "confirmation: {}", confirm.body);
    (confirm, csrf)
}

async fn token_poll(b: &mut Browser, gw: &str, device_code: &str) -> Page {
    b.post(
        &format!("{gw}/token"),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", "town"),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .await
}

async fn device_authorization(b: &mut Browser, gw: &str, form: &[(&str, &str)]) -> Page {
    b.post(&format!("{gw}/device_authorization"), form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_logs_in_through_the_citizens_browser_and_its_code_works_once() {
    let w = world("device-login", "");
    let device = Device::start(&w.gw.url, "town", Some(CLIENT_SECRET));
    let started = device.next(Duration::from_secs(20));
    assert_eq!(started["event"], "started", "{started}");
    assert_eq!(
        started["device_authorization_endpoint"],
        format!("{}/device_authorization", w.gw.url)
    );
    assert!(started["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&"urn:ietf:params:oauth:grant-type:device_code".into()));
    let code = started["user_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(code.as_bytes()[4], b'-');
    assert_eq!(started["verification_uri"], format!("{}/device", w.gw.url));
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);
    let complete = started["verification_uri_complete"]
        .as_str()
        .unwrap()
        .to_owned();

    // The QR code a kiosk shows, drawn by the gateway.
    let mut b = Browser::new(None);
    let qr = b
        .get(&format!(
            "{}/device/qr?user_code={}",
            w.gw.url,
            code.to_lowercase()
        ))
        .await;
    assert_eq!(qr.status, 200);
    assert_eq!(qr.headers["content-type"], "image/svg+xml");
    assert!(qr.body.contains("<svg"));

    // The citizen: the code (typed in lower case, without the dash, it is
    // the same code), the site named, then the usual login.
    let typed = code.replace('-', "").to_lowercase();
    let form = b.get(&complete).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(
        form.input_value("user_code").as_deref(),
        Some(code.as_str())
    );
    let csrf = form.input_value("csrf").unwrap();
    let confirm = b
        .post(
            &format!("{}/device", w.gw.url),
            &[("csrf", &csrf), ("user_code", &typed), ("action", "look")],
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(
        confirm.body.contains("기기에서 구청 민원에 로그인할까요?"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains(&code));
    // Without the browser's CSRF token nothing happens.
    let forged = b
        .post(
            &format!("{}/device", w.gw.url),
            &[("csrf", "x"), ("user_code", &code), ("action", "confirm")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let go = b
        .post(
            &format!("{}/device", w.gw.url),
            &[("csrf", &csrf), ("user_code", &code), ("action", "confirm")],
        )
        .await;
    assert_eq!(go.status, 303, "{}", go.body);
    let chooser = go.location.unwrap();
    let wait = pick_and_submit(&mut b, &chooser, &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (end, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(end.status, 200, "{}", end.body);
    assert!(end.body.contains("기기로 돌아가세요"), "{}", end.body);
    // The code is spent: typed again, it is no code.
    let again = b
        .post(
            &format!("{}/device", w.gw.url),
            &[("csrf", &csrf), ("user_code", &code), ("action", "look")],
        )
        .await;
    assert!(
        again.body.contains("aria-invalid=\"true\""),
        "{}",
        again.body
    );

    // The device: tokens as the code flow issues them.
    let tokens = device.next(Duration::from_secs(30));
    assert_eq!(tokens["event"], "tokens", "{tokens}");
    let claims = &tokens["claims"];
    assert_eq!(claims["aud"], "town");
    assert_eq!(claims["iss"], w.gw.url);
    assert_eq!(claims["name"], "홍길동");
    assert_eq!(claims["provider"], "kakao");
    assert!(claims["sub"].as_str().unwrap().len() > 20);
    assert!(claims["sid"].is_string());
    assert!(claims["acr"]
        .as_str()
        .unwrap()
        .starts_with("urn:munjigi:acr:"));
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let info = b
        .request_with(
            http::Method::GET,
            &format!("{}/userinfo", w.gw.url),
            None,
            &[("authorization", &format!("Bearer {access_token}"))],
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.json()["sub"], claims["sub"]);

    // Replayed: refused, and what the first redemption got is revoked.
    let replay = token_poll(
        &mut Browser::new(None),
        &w.gw.url,
        started["device_code"].as_str().unwrap(),
    )
    .await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.json()["error"], "invalid_grant");
    let info = b
        .request_with(
            http::Method::GET,
            &format!("{}/userinfo", w.gw.url),
            None,
            &[("authorization", &format!("Bearer {access_token}"))],
        )
        .await;
    assert_eq!(info.status, 401);
    let log = w.gw.proc.drain().join("\n");
    assert!(log.contains("MJ-O01"), "{log}");
    assert!(
        !log.contains(&code) && !log.contains(&typed),
        "a user code in the log"
    );

    // The browser now has a gateway session; a second device code (one a
    // stranger could have sent) is still never answered from it: confirming
    // leads to the chooser and the citizen's app, not straight to "done".
    let second = device_authorization(
        &mut Browser::new(None),
        &w.gw.url,
        &[
            ("client_id", "town"),
            ("client_secret", CLIENT_SECRET),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.json();
    let code2 = second["user_code"].as_str().unwrap().to_owned();
    let (_, csrf2) = type_code(
        &mut b,
        second["verification_uri_complete"].as_str().unwrap(),
        &code2,
    )
    .await;
    let go = b
        .post(
            &format!("{}/device", w.gw.url),
            &[
                ("csrf", &csrf2),
                ("user_code", &code2),
                ("action", "confirm"),
            ],
        )
        .await;
    assert_eq!(go.status, 303, "{}", go.body);
    let to = go.location.unwrap();
    let (chooser, _) = b.follow(&absolute(&w.gw.url, &to)).await;
    assert!(
        chooser.body.contains("data-provider=\"kakao\""),
        "the chooser, not an answer from the session: {}",
        chooser.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citizen_cancelling_is_access_denied_at_the_device() {
    let w = world("device-cancel", "");
    // At the confirmation (a public client: client_id alone).
    let device = Device::start(&w.gw.url, "kiosk", None);
    let started = device.next(Duration::from_secs(20));
    assert_eq!(started["event"], "started", "{started}");
    let mut b = Browser::new(None);
    b.accept_language = "en";
    let code = started["user_code"].as_str().unwrap();
    let (confirm, csrf) = type_code(
        &mut b,
        started["verification_uri_complete"].as_str().unwrap(),
        code,
    )
    .await;
    assert!(
        confirm.body.contains("Log in to Kiosk on your device?"),
        "{}",
        confirm.body
    );
    let cancelled = b
        .post(
            &format!("{}/device", w.gw.url),
            &[("csrf", &csrf), ("user_code", code), ("action", "cancel")],
        )
        .await;
    assert_eq!(cancelled.status, 200);
    assert!(
        cancelled.body.contains("Device login cancelled"),
        "{}",
        cancelled.body
    );
    let end = device.next(Duration::from_secs(30));
    assert_eq!(end["event"], "error", "{end}");
    assert_eq!(end["error"], "access_denied", "{end}");

    // From the chooser, back to the site.
    let device = Device::start(&w.gw.url, "town", Some(CLIENT_SECRET));
    let started = device.next(Duration::from_secs(20));
    let code = started["user_code"].as_str().unwrap();
    let mut b = Browser::new(None);
    let (_, csrf) = type_code(
        &mut b,
        started["verification_uri_complete"].as_str().unwrap(),
        code,
    )
    .await;
    let go = b
        .post(
            &format!("{}/device", w.gw.url),
            &[("csrf", &csrf), ("user_code", code), ("action", "confirm")],
        )
        .await;
    assert_eq!(go.status, 303, "{}", go.body);
    let chooser = go.location.unwrap();
    let (back, _) = b.follow(&format!("{chooser}/abort")).await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert!(
        back.body.contains("기기 로그인을 취소했습니다"),
        "{}",
        back.body
    );
    let end = device.next(Duration::from_secs(30));
    assert_eq!(end["error"], "access_denied", "{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_too_fast_slows_down_and_a_site_must_be_allowed_the_grant() {
    let w = world("device-refusals", "");
    let mut b = Browser::new(None);
    let gw = w.gw.url.clone();
    // Not allowed the grant.
    let r = device_authorization(
        &mut b,
        &gw,
        &[
            ("client_id", "plain"),
            ("client_secret", "plain-secret-0123456789"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "unauthorized_client");
    // A wrong secret, no openid.
    let r = device_authorization(
        &mut b,
        &gw,
        &[
            ("client_id", "town"),
            ("client_secret", "wrong-secret-0123456789"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    let town = [("client_id", "town"), ("client_secret", CLIENT_SECRET)];
    let r = device_authorization(&mut b, &gw, &[town[0], town[1], ("scope", "profile")]).await;
    assert_eq!(r.json()["error"], "invalid_scope");

    let r = device_authorization(&mut b, &gw, &[town[0], town[1], ("scope", "openid")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let device_code = r.json()["device_code"].as_str().unwrap().to_owned();
    // The plain site cannot redeem it either.
    let other = b
        .post(
            &format!("{gw}/token"),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &device_code),
                ("client_id", "plain"),
                ("client_secret", "plain-secret-0123456789"),
            ],
        )
        .await;
    assert_eq!(other.json()["error"], "unauthorized_client");
    let first = token_poll(&mut b, &gw, &device_code).await;
    assert_eq!(first.status, 400);
    assert_eq!(first.json()["error"], "authorization_pending");
    let fast = token_poll(&mut b, &gw, &device_code).await;
    assert_eq!(fast.json()["error"], "slow_down");
    // The interval grew to 10 s: 6 s later is still too fast.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let still = token_poll(&mut b, &gw, &device_code).await;
    assert_eq!(still.json()["error"], "slow_down", "{}", still.body);
    let unknown = token_poll(&mut b, &gw, "no-such-device-code").await;
    assert_eq!(unknown.json()["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_device_code_is_expired_token_and_no_code_at_the_page() {
    let w = world("device-expiry", "");
    let mut b = Browser::new(None);
    let r = device_authorization(
        &mut b,
        &w.gw.url,
        &[("client_id", "kiosk"), ("scope", "openid")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["expires_in"], 10);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let form = b
        .get(j["verification_uri_complete"].as_str().unwrap())
        .await;
    let csrf = form.input_value("csrf").unwrap();
    let page = b
        .post(
            &format!("{}/device", w.gw.url),
            &[
                ("csrf", &csrf),
                ("user_code", j["user_code"].as_str().unwrap()),
                ("action", "look"),
            ],
        )
        .await;
    assert!(page.body.contains("aria-invalid=\"true\""), "{}", page.body);
    let poll = b
        .post(
            &format!("{}/token", w.gw.url),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", j["device_code"].as_str().unwrap()),
                ("client_id", "kiosk"),
            ],
        )
        .await;
    assert_eq!(poll.status, 400);
    assert_eq!(poll.json()["error"], "expired_token", "{}", poll.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_user_codes_typed_many_times_are_refused_with_a_page() {
    let w = world("device-guessing", "device_codes_per_client = [\"3/1m\"]\n");
    let mut b = Browser::new(None);
    let form = b.get(&format!("{}/device", w.gw.url)).await;
    let csrf = form.input_value("csrf").unwrap();
    for guess in ["BCDF-GHJK", "bcdfghjl", "BCDF GHJM"] {
        let p = b
            .post(
                &format!("{}/device", w.gw.url),
                &[("csrf", &csrf), ("user_code", guess), ("action", "look")],
            )
            .await;
        assert_eq!(p.status, 200);
        assert!(p.body.contains("aria-invalid=\"true\""), "{}", p.body);
    }
    let p = b
        .post(
            &format!("{}/device", w.gw.url),
            &[
                ("csrf", &csrf),
                ("user_code", "BCDF-GHJN"),
                ("action", "look"),
            ],
        )
        .await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(p.body.contains("MJ-L07"), "{}", p.body);
    assert!(
        p.body.contains("코드를 너무 많이 입력했습니다"),
        "{}",
        p.body
    );
    assert!(p.headers.contains_key("retry-after"));
    let log = w.gw.proc.drain().join("\n");
    assert!(
        log.contains("too many codes typed") && log.contains("client_device_codes"),
        "{log}"
    );
    assert!(!log.contains("BCDF"), "a user code in the log");
}

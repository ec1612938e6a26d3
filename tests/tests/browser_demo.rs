//! The demo login in a real browser: Debian's chromium driven by playwright-core
//! (installed by ./deploy/test), keyboard on the form, the waiting page's own
//! script polling, ending on the demo site with the validated claims. Korean and
//! English. Screenshots land in target/browser-shots/ for a person to look at.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::ffi::{OsStr, OsString};
use std::process::Command;

/// Runs a browser script with node; it must exit 0 and print `OK:`. On
/// failure, its output and the gateway's log (`logs`) are shown.
fn node(script: impl AsRef<OsStr>, args: &[OsString], what: &str, logs: Option<&Proc>) {
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("OK:"),
        "{what} failed:\n{stdout}\n{stderr}\ngateway:\n{}",
        logs.map(|p| p.drain().join("\n")).unwrap_or_default()
    );
}

fn os(s: impl AsRef<OsStr>) -> OsString {
    s.as_ref().to_owned()
}

/// A simulator whose citizens approve after 1.5 s, and a gateway.
struct Demo {
    dir: TempDir,
    _sim: Proc,
    sim_url: String,
    gw: Gateway,
}

/// The demo site (as the `town` client), with `extra(sim_url)` in the
/// gateway's config.
fn demo(tag: &str, extra: impl FnOnce(&str) -> String) -> Demo {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 1500,
            ..SimOpts::default()
        },
    );
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            demo: true,
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: extra(&sim_url),
            ..GatewayOpts::default()
        },
    );
    Demo {
        dir,
        _sim: sim,
        sim_url,
        gw,
    }
}

/// The demo as a site of its own that may sign ([`signing_demo_site`]),
/// with `extra` in the gateway's config.
fn signing_demo(tag: &str, extra: String) -> Demo {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 1500,
            ..SimOpts::default()
        },
    );
    let port = free_port();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            port: Some(port),
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: format!(
                "{}{extra}",
                signing_demo_site(&format!("http://127.0.0.1:{port}"))
            ),
            ..GatewayOpts::default()
        },
    );
    Demo {
        dir,
        _sim: sim,
        sim_url,
        gw,
    }
}

#[test]
fn a_citizen_logs_in_on_the_demo_site_in_a_real_browser() {
    let Demo {
        dir: _dir,
        _sim,
        sim_url: _,
        gw,
    } = demo("browser", |_| String::new());
    let script = repo_root().join("tests/browser/demo_login.mjs");
    assert!(
        repo_root()
            .join("tests/browser/node_modules/playwright-core")
            .exists(),
        "playwright-core missing: ./deploy/test installs it (npm ci in tests/browser)"
    );
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    for lang in ["ko", "en"] {
        node(
            &script,
            &[os(&gw.url), os(&shots), os(lang)],
            &format!("browser login ({lang})"),
            Some(&gw.proc),
        );
    }
}

/// The demo's call-centre screen (CIBA) and kiosk (device grant) in a real
/// browser: the operator's form by keyboard, the waiting page's script
/// showing the verified caller; the kiosk's code typed on a 320 px phone page,
/// the kiosk's script showing the welcome. Korean and English.
#[test]
fn the_call_centre_and_the_kiosk_work_in_a_real_browser() {
    let Demo {
        dir: _dir,
        _sim,
        sim_url: _,
        gw,
    } = demo("browser-away", |_| {
        "device_grant = true\nciba = true\nciba_unsigned_hints = true\n".to_owned()
    });
    let script = repo_root().join("tests/browser/demo_away.mjs");
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    for lang in ["ko", "en"] {
        node(
            &script,
            &[os(&gw.url), os(&shots), os(lang)],
            &format!("call centre and kiosk ({lang})"),
            Some(&gw.proc),
        );
    }
}

/// The demo's "sign a document": typed text (Korean) and a file read by the
/// page's script (English), the receipt table, the receipt downloaded. The
/// demo site here is its own site registered with `/demo/signed`, signing on.
#[test]
fn a_citizen_signs_a_document_on_the_demo_site_in_a_real_browser() {
    let Demo {
        dir,
        _sim,
        sim_url: _,
        gw,
    } = signing_demo("browser-sign", String::new());
    let script = repo_root().join("tests/browser/demo_sign.mjs");
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    for lang in ["ko", "en"] {
        node(
            &script,
            &[os(&gw.url), os(&shots), os(lang)],
            &format!("browser signing ({lang})"),
            Some(&gw.proc),
        );
    }
    // Both receipts were audited before they were released.
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let signed = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"signature.completed\""))
        .count();
    assert_eq!(signed, 2, "{audit}");
}

/// A demo site of its own, registered with `/demo/signed`, and signing on
/// (the demo's `town` site cannot sign).
fn signing_demo_site(url: &str) -> String {
    format!(
        "\n[sites.demo]\nname = \"데모 민원 사이트\"\nname_en = \"Demo public service\"\npolicy = \"standard\"\n\
         [sites.demo.oidc]\nclient_id = \"demo-site\"\nclient_secret = {{ value = \"demo-only-client-secret-0123\" }}\n\
         redirect_uris = [\"{url}/demo/callback\", \"{url}/demo/signed\"]\n\
         post_logout_redirect_uris = [\"{url}/demo\"]\n\
         \n[demo]\nsite = \"demo\"\n\n[signing]\naudit_log = \"audit.log\"\n"
    )
}

/// The chooser with one provider not answering (its circuit opened after a
/// start failed in a provider-wide outage) and one an operator turned off,
/// in Korean and English, at 412 and 320 px (screenshots
/// `chooser-degraded-*.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chooser_greys_out_providers_that_are_not_offered_in_a_real_browser() {
    let dir = TempDir::new("browser-degraded");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: "\n[health]\nmin_calls = 1\nopen_secs = 600\n\n[health.providers.pass]\nforce = \"off\"\n\
                    reason_ko = \"PASS 정기 점검 중 (21시까지)\"\nreason_en = \"PASS scheduled maintenance until 21:00\"\n"
                .into(),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
    assert_eq!(
        sim_control(&sim_url, "outage", r#"{"provider":"naver","mode":"down"}"#),
        200
    );
    // One start on Naver fails: its circuit opens.
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let form = b.get(&format!("{base}/identify?provider=naver")).await;
    let csrf = form.input_value("csrf").unwrap();
    let r = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "naver"),
                ("name", "홍길동"),
                ("birthdate", "1990-01-31"),
                ("phone", "010-1234-5678"),
                ("consent", "yes"),
            ],
        )
        .await;
    assert!(r.status >= 500, "{}", r.body);
    let script = repo_root().join("tests/browser/degraded_chooser.mjs");
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    for lang in ["ko", "en"] {
        node(
            &script,
            &[
                os(format!("{}/login", site.url)),
                os(&shots),
                os(lang),
                os("naver,pass"),
            ],
            &format!("degraded chooser ({lang})"),
            None,
        );
    }
}

/// A citizen waiting on Naver when Naver goes down for everyone (the
/// simulator's outage, set by the page's driver): the waiting page's own
/// script shows the way to another provider in place, announces it, does
/// not reload, and its button leads to the chooser (screenshots
/// `waiting-down-*.png`).
#[test]
fn a_waiting_page_offers_another_provider_in_place_in_a_real_browser() {
    let script = repo_root().join("tests/browser/waiting_down.mjs");
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    // A gateway per language: the first run leaves Naver's circuit open.
    for lang in ["ko", "en"] {
        let dir = TempDir::new("browser-waiting-down");
        let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
        let (site_port, redirect) = site_port_and_redirect();
        let gw = start_gateway(
            dir.path(),
            &sim_url,
            &GatewayOpts {
                site_redirect: redirect,
                extra: "\n[health]\nmin_calls = 1\nopen_secs = 600\n".into(),
                ..GatewayOpts::default()
            },
        );
        let site = start_site(site_port, &gw.url, "client_secret_basic", None);
        node(
            &script,
            &[
                os(format!("{}/login", site.url)),
                os(&shots),
                os(lang),
                os(&sim_url),
                os(SIM_CONTROL_TOKEN),
            ],
            &format!("waiting page ({lang})"),
            Some(&gw.proc),
        );
    }
}

/// An SP on another site logs out over HTTP-POST in a real browser (which
/// withholds SameSite=Lax cookies from that cross-site POST): the gateway
/// session must end, and the SP must hear Success only then.
#[test]
fn a_cross_site_post_logout_ends_the_gateway_session_in_a_real_browser() {
    use munjigi_e2e::saml::{start_saml_sp, SamlSpOpts};
    let dir = TempDir::new("browser-saml-logout");
    let (_sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 1000,
            ..SimOpts::default()
        },
    );
    let port = free_port();
    let gw_url = format!("http://127.0.0.1:{port}");
    let sp = start_saml_sp(
        dir.path(),
        &gw_url,
        &SamlSpOpts {
            sign_requests: true,
            host: Some("localhost"),
            ..SamlSpOpts::default()
        },
    );
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            port: Some(port),
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: format!(
                "\n[sites.shop]\nname = \"민원 포털\"\nname_en = \"Civil portal\"\npolicy = \"standard\"\n\n[sites.shop.saml]\nmetadata = \"{}\"\nscope = \"profile phone\"\n",
                sp.metadata.display()
            ),
            ..GatewayOpts::default()
        },
    );
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    node(
        repo_root().join("tests/browser/saml_logout_post.mjs"),
        &[os(&sp.url), os(&shots)],
        "browser SAML POST logout",
        Some(&gw.proc),
    );
    let logs = gw.proc.drain().join("\n");
    assert!(
        logs.contains("SAML logout request: the gateway session ended"),
        "{logs}"
    );
}

/// A mobile ID login on the demo site on a 320 px screen in a real browser,
/// by the QR code (no push server): the waiting page shows the wallet's QR
/// code (in the screenshot, square, inside the screen, named for screen
/// readers); the test reads it from the page as a camera would and hands it
/// Every citizen page (chooser, form, waiting for a push, an app and a
/// wallet, done, the errors, the signing review, logout, the kiosk's code
/// page) in Korean and English at 360 px and 1280 px: a screenshot each, and
/// axe-core's WCAG 2.2 AA rules finding nothing on any of them. The
/// screenshots go to target/screenshots, or to `MUNJIGI_SCREENSHOTS` (how
/// `./deploy/screenshots` refreshes docs/screenshots).
#[test]
fn every_citizen_page_passes_axe_in_both_languages_at_phone_and_desktop_widths() {
    let Demo {
        dir: _dir,
        _sim,
        sim_url: _,
        gw,
    } = signing_demo("browser-pages", openid4vp_toml());
    let out = std::env::var_os("MUNJIGI_SCREENSHOTS").map_or_else(
        || repo_root().join("target/screenshots"),
        std::path::PathBuf::from,
    );
    node(
        repo_root().join("tests/browser/pages.mjs"),
        &[os(&gw.url), os(&out)],
        "the pages",
        Some(&gw.proc),
    );
    let pngs = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(pngs >= 60, "{pngs} screenshots in {}", out.display());
}

/// App-to-app on a 360 px phone browser: chooser → form → "open the app" →
/// the simulator's app (the exact link of the button) → back → done, for
/// Kakao (the app returns to the waiting page) and Naver (the citizen
/// switches back); the next visit offers Naver first. Korean and English.
#[test]
fn a_citizen_on_a_phone_opens_the_app_and_comes_back_logged_in_in_a_real_browser() {
    let Demo {
        dir: _dir,
        _sim,
        sim_url,
        gw,
    } = demo("browser-a2a", |_| String::new());
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    for lang in ["ko", "en"] {
        node(
            repo_root().join("tests/browser/app_to_app.mjs"),
            &[os(&gw.url), os(&sim_url), os(&shots), os(lang)],
            &format!("app-to-app in a browser ({lang})"),
            Some(&gw.proc),
        );
    }
}

/// to the simulator's wallet, whose presentation moves the page on to the
/// claims (`acr` high). Korean and English.
#[test]
fn a_citizen_logs_in_with_the_mobile_id_in_a_real_browser() {
    wallet_login_in_a_browser(
        "mobile-id",
        ("모바일 신분증", "Mobile ID"),
        &|sim_url| mobile_id_toml(sim_url, false),
    );
}

#[test]
fn a_citizen_logs_in_with_an_openid4vp_wallet_in_a_real_browser() {
    wallet_login_in_a_browser("wallet", ("디지털 지갑", "Digital wallet"), &|_| {
        openid4vp_toml()
    });
}

/// A login with a wallet provider in chromium at 320 px, in Korean and
/// English: the simulator's wallet scans the QR code the page shows.
fn wallet_login_in_a_browser(
    provider: &str,
    (name_ko, name_en): (&str, &str),
    extra: &dyn Fn(&str) -> String,
) {
    let Demo {
        dir: _dir,
        _sim,
        sim_url,
        gw,
    } = demo("browser-wallet", extra);
    let shots = repo_root().join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    for lang in ["ko", "en"] {
        let svg = shots.join(format!("{provider}-qr-{lang}.svg"));
        let _ = std::fs::remove_file(&svg);
        let child = Command::new("node")
            .arg(repo_root().join("tests/browser/wallet.mjs"))
            .arg(&gw.url)
            .arg(&shots)
            .arg(lang)
            .arg(provider)
            .arg(name_ko)
            .arg(name_en)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("node");
        // The citizen's phone scans the page's QR code.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let text = loop {
            if let Ok(s) = std::fs::read_to_string(&svg) {
                if s.contains("</svg>") {
                    break read_qr_svg(&s);
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no QR code from the page"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        let scan = serde_json::json!({
            "phone": "010-1234-5678", "name": "홍길동", "birthdate": "1990-01-31", "qr": text,
        });
        assert_eq!(sim_control(&sim_url, "wallet-scan", &scan.to_string()), 200);
        let out = child.wait_with_output().expect("node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("OK:"),
            "{provider} browser login ({lang}) failed:\n{stdout}\n{stderr}\ngateway:\n{}",
            gw.proc.drain().join("\n")
        );
        assert!(shots
            .join(format!("{provider}-waiting-{lang}.png"))
            .exists());
    }
}

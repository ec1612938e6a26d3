//! One row per provider misbehaviour: what the simulated provider does, and what
//! the citizen, the site and the operator then see — the login's state, the page
//! (its stable code), the HTTP status, and the log event.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

struct Row {
    /// The provider the citizen picks.
    provider: &'static str,
    scenario: &'static str,
    phone: &'static str,
    /// A scenario set through the simulator's control API just before the
    /// login, replacing the configured `scenario`.
    then: Option<&'static str>,
    /// State reported by the status endpoint (None: refused before any push).
    state: Option<&'static str>,
    /// HTTP status of the page the citizen ends on.
    status: u16,
    /// The stable code that page shows.
    code: &'static str,
    /// Fragments of one of the operator's log lines.
    log: &'static [&'static str],
    /// Log in once (genuinely) before the row's login, as the same person.
    twice: bool,
}

const ROWS: &[Row] = &[
    Row {
        provider: "kakao",
        scenario: "reject",
        phone: "010-0000-0011",
        then: None,
        state: Some("rejected"),
        status: 200,
        code: "MJ-P01",
        log: &["reason=\"rejected\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "never",
        phone: "010-0000-0012",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &["reason=\"expired\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "viewed",
        phone: "010-0000-0013",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &["reason=\"expired\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "tamper_content",
        phone: "010-0000-0014",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"content_mismatch\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "bad_signature",
        phone: "010-0000-0015",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"signature\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "wrong_chain",
        phone: "010-0000-0016",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"chain\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "wrong_person",
        phone: "010-0000-0017",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P06",
        log: &["wrong_signer"],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "unknown",
        phone: "010-0000-0018",
        then: None,
        state: None,
        status: 422,
        code: "",
        log: &["reason=\"unknown_person\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "dormant",
        phone: "010-0000-0019",
        then: None,
        state: None,
        status: 200,
        code: "MJ-P05",
        log: &["reason=\"account_unusable\""],
        twice: false,
    },
    // The signer certificate is revoked in the provider's CRL (which the
    // gateway reads from the simulator's crl.pem, crl_required = true).
    Row {
        provider: "kakao",
        scenario: "revoked",
        phone: "010-0000-0020",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"revoked\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "expired_cert",
        phone: "010-0000-0021",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"cert_not_valid_at_signing_time\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "signing_time_outside",
        phone: "010-0000-0022",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"signing_time_outside_window\""],
        twice: false,
    },
    // Maintenance (503) and HTTP 500 on every status poll: transient, so the
    // gateway keeps polling (each failure logged) until, with this test's 4 s
    // provider ttl, the request expires; after 60 s of failures it would fail
    // the login as unavailable (MJ-P09) instead.
    Row {
        provider: "kakao",
        scenario: "maintenance",
        phone: "010-0000-0023",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &["status poll failed; will retry"],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "server_error",
        phone: "010-0000-0024",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &["status poll failed; will retry"],
        twice: false,
    },
    // Bad input on every status poll, each with HTTP 200: a body that is not
    // JSON, gzip never asked for, JSON cut in half, JSON of the wrong types.
    // A protocol error is not transient: the login fails at once (MJ-P11).
    Row {
        provider: "kakao",
        scenario: "garbage",
        phone: "010-0000-0026",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=kakao reason=\"protocol\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "gzip",
        phone: "010-0000-0027",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=kakao reason=\"protocol\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "truncated",
        phone: "010-0000-0028",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=kakao reason=\"protocol\""],
        twice: false,
    },
    Row {
        provider: "kakao",
        scenario: "wrong_types",
        phone: "010-0000-0029",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=kakao reason=\"protocol\""],
        twice: false,
    },
    // An oversized answer is a protocol error: the login fails at once.
    Row {
        provider: "kakao",
        scenario: "huge",
        phone: "010-0000-0030",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=kakao reason=\"protocol\""],
        twice: false,
    },
    // Configured to reject; the control API makes the same person's signer
    // certificate revoked before the login.
    Row {
        provider: "kakao",
        scenario: "reject",
        phone: "010-0000-0025",
        then: Some("revoked"),
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"revoked\""],
        twice: false,
    },
    // The same misbehaviour on the other families, each answered in its own
    // error shape by the simulator (Kakao direct: E0002 on 503 and E0001 on
    // HTTP 400; Toss direct: the FAIL envelope with 503 / 500; banks: their
    // dialect's error body with 503 / 500): transient, so polled until the 4 s
    // ttl expires the request.
    Row {
        provider: "kakao-direct",
        scenario: "maintenance",
        phone: "010-0000-0031",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=kakao-direct reason=\"unavailable\"",
        ],
        twice: false,
    },
    Row {
        provider: "toss-direct",
        scenario: "maintenance",
        phone: "010-0000-0032",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=toss-direct reason=\"unavailable\"",
        ],
        twice: false,
    },
    Row {
        provider: "kb",
        scenario: "maintenance",
        phone: "010-0000-0033",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=kb reason=\"unavailable\"",
        ],
        twice: false,
    },
    Row {
        provider: "kakao-direct",
        scenario: "server_error",
        phone: "010-0000-0034",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=kakao-direct reason=\"unavailable\"",
        ],
        twice: false,
    },
    Row {
        provider: "toss-direct",
        scenario: "server_error",
        phone: "010-0000-0035",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=toss-direct reason=\"unavailable\"",
        ],
        twice: false,
    },
    Row {
        provider: "kb",
        scenario: "server_error",
        phone: "010-0000-0036",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=kb reason=\"unavailable\"",
        ],
        twice: false,
    },
    // A status call that never answers: each poll ends at the provider's
    // timeout (2 s in this test) as a transport error, transient, until the
    // 4 s ttl expires the request. The test stays bounded by the timeout, not
    // by the simulator's ten-minute hold (nor the gateway's 70 s poll deadline).
    Row {
        provider: "kakao",
        scenario: "hung",
        phone: "010-0000-0037",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=kakao reason=\"transport\"",
        ],
        twice: false,
    },
    Row {
        provider: "kakao-direct",
        scenario: "hung",
        phone: "010-0000-0038",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=kakao-direct reason=\"transport\"",
        ],
        twice: false,
    },
    Row {
        provider: "toss-direct",
        scenario: "hung",
        phone: "010-0000-0039",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=toss-direct reason=\"transport\"",
        ],
        twice: false,
    },
    Row {
        provider: "kb",
        scenario: "hung",
        phone: "010-0000-0040",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: &[
            "status poll failed; will retry",
            "provider=kb reason=\"transport\"",
        ],
        twice: false,
    },
    // A body that is not JSON with HTTP 200, on each family: protocol error,
    // the login fails at once.
    Row {
        provider: "kakao-direct",
        scenario: "garbage",
        phone: "010-0000-0041",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=kakao-direct reason=\"protocol\""],
        twice: false,
    },
    Row {
        provider: "toss-direct",
        scenario: "garbage",
        phone: "010-0000-0042",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=toss-direct reason=\"protocol\""],
        twice: false,
    },
    Row {
        provider: "shinhan",
        scenario: "garbage",
        phone: "010-0000-0043",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P11",
        log: &["provider=shinhan reason=\"protocol\""],
        twice: false,
    },
    // Kakao direct with `crl` / `crl_required` (every family takes them): the
    // signer certificate is revoked in Kakao's CRL, which the simulator
    // republishes at pki/kakao-direct/crl.pem.
    Row {
        provider: "kakao-direct",
        scenario: "revoked",
        phone: "010-0000-0046",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["provider=kakao-direct", "check=\"revoked\""],
        twice: false,
    },
    // The provider answers verify with this person's previous genuine
    // result (a replay): its CMS holds the earlier login's nonce, so the
    // second login is refused. The first login of the pair is genuine.
    Row {
        provider: "kakao",
        scenario: "replayed_result",
        phone: "010-0000-0044",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: &["check=\"content_mismatch\""],
        twice: true,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misbehaviour_ends_in_the_right_state_page_status_and_log() {
    let dir = TempDir::new("misbehaviour");
    let people = ROWS
        .iter()
        .map(|r| Person {
            phone: r.phone,
            scenario: r.scenario,
        })
        .collect();
    let (_sim, sim_url) = start_simulator(
        dir.path(),
        &SimOpts {
            approve_after_ms: 300,
            people,
        },
    );
    let (port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            provider_ttl_secs: Some(4),
            provider_timeout_ms: Some(2000),
            kakao_direct_extra: "crl = \"pki/kakao-direct/crl.pem\"\ncrl_required = true".into(),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(port, &gw.url, "client_secret_basic", None);
    let mut failures = Vec::new();
    for row in ROWS {
        if let Some(then) = row.then {
            sim_set_scenario(&sim_url, row.phone, then);
        }
        if row.twice {
            // The genuine first login, through to the site.
            let (mut b, base, started) = start_login(&site.url, row).await;
            assert_eq!(started.status, 303, "{}: first start", row.scenario);
            let done = wait_done(&mut b, &base).await;
            assert_eq!(done["state"], "completed", "{}: first login", row.scenario);
            let page = b.get(&format!("{base}/continue")).await;
            assert!(
                page.location.is_some(),
                "{}: first login reaches the site",
                row.scenario
            );
        }
        let (mut b, base, started) = start_login(&site.url, row).await;
        let page = match row.state {
            None => started,
            Some(want) => {
                assert_eq!(
                    started.status, 303,
                    "{}: start: {}",
                    row.scenario, started.body
                );
                let done = wait_done(&mut b, &base).await;
                if done["state"] != want {
                    failures.push(format!(
                        "{} via {} ({}): state {} (want {want})",
                        row.scenario, row.provider, row.phone, done["state"]
                    ));
                    continue;
                }
                let next = if want == "completed" {
                    format!("{base}/continue")
                } else {
                    format!("{base}/wait")
                };
                b.get(&next).await
            }
        };
        if page.status != row.status {
            failures.push(format!(
                "{} via {}: HTTP {} (want {})",
                row.scenario, row.provider, page.status, row.status
            ));
        }
        if !page.body.contains(row.code) {
            failures.push(format!(
                "{} via {}: page lacks {}",
                row.scenario, row.provider, row.code
            ));
        }
        if page.location.is_some() {
            failures.push(format!("{}: no code may reach the site", row.scenario));
        }
        // Every failure page offers another provider.
        if !page
            .body
            .contains(&format!("href=\"{}\"", base.trim_start_matches(&gw.url)))
        {
            failures.push(format!(
                "{}: no way to choose another provider",
                row.scenario
            ));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut logs: Vec<String> = Vec::new();
        let found = |logs: &[String]| {
            logs.iter()
                .any(|l| row.log.iter().all(|fragment| l.contains(fragment)))
        };
        while !found(&logs) && std::time::Instant::now() < deadline {
            logs.extend(gw.proc.drain());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if !found(&logs) {
            failures.push(format!(
                "{} ({}): no log line with all of {:?} in:\n{}",
                row.scenario,
                row.provider,
                row.log,
                logs.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Opens the chooser from the site, picks the row's provider and submits the
/// form as the row's person: the browser, the login's base URL, the answer.
async fn start_login(site_url: &str, row: &Row) -> (Browser, String, Page) {
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{site_url}/login")).await;
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let form = b
        .get(&format!("{base}/identify?provider={}", row.provider))
        .await;
    let csrf = form.input_value("csrf").unwrap();
    let started = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", &csrf),
                ("provider", row.provider),
                ("name", "홍길동"),
                ("birthdate", "1990-01-31"),
                ("phone", row.phone),
                ("consent", "yes"),
            ],
        )
        .await;
    (b, base, started)
}

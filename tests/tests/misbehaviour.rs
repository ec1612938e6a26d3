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
    /// A fragment of the operator's log line.
    log: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        scenario: "reject",
        phone: "010-0000-0011",
        then: None,
        state: Some("rejected"),
        status: 200,
        code: "MJ-P01",
        log: "reason=\"rejected\"",
    },
    Row {
        scenario: "never",
        phone: "010-0000-0012",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: "reason=\"expired\"",
    },
    Row {
        scenario: "viewed",
        phone: "010-0000-0013",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: "reason=\"expired\"",
    },
    Row {
        scenario: "tamper_content",
        phone: "010-0000-0014",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: "check=\"content_mismatch\"",
    },
    Row {
        scenario: "bad_signature",
        phone: "010-0000-0015",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: "check=\"signature\"",
    },
    Row {
        scenario: "wrong_chain",
        phone: "010-0000-0016",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: "check=\"chain\"",
    },
    Row {
        scenario: "wrong_person",
        phone: "010-0000-0017",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P06",
        log: "wrong_signer",
    },
    Row {
        scenario: "unknown",
        phone: "010-0000-0018",
        then: None,
        state: None,
        status: 422,
        code: "",
        log: "reason=\"unknown_person\"",
    },
    Row {
        scenario: "dormant",
        phone: "010-0000-0019",
        then: None,
        state: None,
        status: 200,
        code: "MJ-P05",
        log: "reason=\"account_unusable\"",
    },
    // The signer certificate is revoked in the provider's CRL (which the
    // gateway reads from the simulator's crl.pem, crl_required = true).
    Row {
        scenario: "revoked",
        phone: "010-0000-0020",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: "check=\"revoked\"",
    },
    Row {
        scenario: "expired_cert",
        phone: "010-0000-0021",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: "check=\"cert_not_valid_at_signing_time\"",
    },
    Row {
        scenario: "signing_time_outside",
        phone: "010-0000-0022",
        then: None,
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: "check=\"signing_time_outside_window\"",
    },
    // Maintenance (503) and HTTP 500 on every status poll: transient, so the
    // gateway keeps polling (each failure logged) until, with this test's 4 s
    // provider ttl, the request expires; after 60 s of failures it would fail
    // the login as unavailable (MJ-P09) instead.
    Row {
        scenario: "maintenance",
        phone: "010-0000-0023",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: "status poll failed; will retry",
    },
    Row {
        scenario: "server_error",
        phone: "010-0000-0024",
        then: None,
        state: Some("expired"),
        status: 200,
        code: "MJ-P02",
        log: "status poll failed; will retry",
    },
    // Bad input on every status poll, each with HTTP 200: a body that is not
    // JSON, gzip never asked for, JSON cut in half, JSON of the wrong types.
    // A protocol error is not transient: the login fails at once (MJ-P10).
    Row {
        scenario: "garbage",
        phone: "010-0000-0026",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P10",
        log: "provider=kakao reason=\"protocol\"",
    },
    Row {
        scenario: "gzip",
        phone: "010-0000-0027",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P10",
        log: "provider=kakao reason=\"protocol\"",
    },
    Row {
        scenario: "truncated",
        phone: "010-0000-0028",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P10",
        log: "provider=kakao reason=\"protocol\"",
    },
    Row {
        scenario: "wrong_types",
        phone: "010-0000-0029",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P10",
        log: "provider=kakao reason=\"protocol\"",
    },
    // An oversized answer is a protocol error: the login fails at once.
    Row {
        scenario: "huge",
        phone: "010-0000-0030",
        then: None,
        state: Some("failed"),
        status: 200,
        code: "MJ-P10",
        log: "provider=kakao reason=\"protocol\"",
    },
    // Configured to reject; the control API makes the same person's signer
    // certificate revoked before the login.
    Row {
        scenario: "reject",
        phone: "010-0000-0025",
        then: Some("revoked"),
        state: Some("completed"),
        status: 200,
        code: "MJ-P07",
        log: "check=\"revoked\"",
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
            ..GatewayOpts::default()
        },
    );
    let site = start_site(port, &gw.url, "client_secret_basic", None);
    let mut failures = Vec::new();
    for row in ROWS {
        if let Some(then) = row.then {
            sim_set_scenario(&sim_url, row.phone, then);
        }
        let mut b = Browser::new(None);
        let (_, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
        let base = chooser_url.split('?').next().unwrap().to_owned();
        let form = b.get(&format!("{base}/identify?provider=kakao")).await;
        let csrf = form.input_value("csrf").unwrap();
        let started = b
            .post(
                &format!("{base}/start"),
                &[
                    ("csrf", &csrf),
                    ("provider", "kakao"),
                    ("name", "홍길동"),
                    ("birthdate", "1990-01-31"),
                    ("phone", row.phone),
                    ("consent", "yes"),
                ],
            )
            .await;
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
                        "{} ({}): state {} (want {want})",
                        row.scenario, row.phone, done["state"]
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
                "{}: HTTP {} (want {})",
                row.scenario, page.status, row.status
            ));
        }
        if !page.body.contains(row.code) {
            failures.push(format!("{}: page lacks {}", row.scenario, row.code));
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
        let mut logs = String::new();
        while !logs.contains(row.log) && std::time::Instant::now() < deadline {
            logs.push_str(&gw.proc.drain().join("\n"));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if !logs.contains(row.log) {
            failures.push(format!(
                "{}: log lacks {} in:\n{logs}",
                row.scenario, row.log
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

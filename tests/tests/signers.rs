//! A person's signer certificate is remembered per provider (issue 18 point
//! 1): a genuine result signed with another certificate than last time is
//! logged and counted, or, where the operator says so, refused (`MJ-P15`)
//! until an operator confirms it on the admin listener. Real simulator (its
//! `renewed` scenario: the person's second certificate), real gateway, the
//! Authlib site.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

struct Setup {
    w: World,
    admin: String,
}

/// The admin token of these tests' gateways.
const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef0123456789";

fn setup(tag: &str, signers: &str) -> Setup {
    let admin_port = free_port();
    let w = world_with(
        tag,
        &format!(
            "\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\ntoken = {{ value = \"{ADMIN_TOKEN}\" }}\n\n{signers}"
        ),
    );
    Setup {
        w,
        admin: format!("http://127.0.0.1:{admin_port}"),
    }
}

/// `munjigi_signer_changes_total{provider, action}` (0 when not yet counted).
async fn changes(s: &Setup, provider: &str, action: &str) -> u64 {
    let page = Browser::new(None)
        .get(&format!("{}/metrics", s.admin))
        .await;
    assert_eq!(page.status, 200);
    let series =
        format!("munjigi_signer_changes_total{{provider=\"{provider}\",action=\"{action}\"}} ");
    page.body
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// A whole login through `provider` as HONG: the site's `sub`.
async fn sub_via(s: &Setup, provider: &str) -> String {
    let r = login_via(&s.w, provider, &[], &HONG).await;
    r["id_token_claims"]["sub"].as_str().unwrap().to_owned()
}

/// Waits (a few seconds at most) for a gateway log line holding every fragment.
async fn logged(s: &Setup, fragments: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut lines: Vec<String> = Vec::new();
    loop {
        lines.extend(s.w.gw.proc.drain());
        if let Some(l) = lines
            .iter()
            .find(|l| fragments.iter().all(|f| l.contains(f)))
        {
            return l.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no line with all of {fragments:?} in:\n{}",
            lines.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

const CHANGE: &str = "signed with another certificate than last time";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_logged_once_in_every_family() {
    let s = setup("signers-log", "");
    let hong_ci = munjigi_sim::simulator::ci_of(HONG.name, HONG.birthdate, HONG.phone).unwrap();
    // The broker, Kakao direct and Toss direct: each family's own results.
    for provider in ["kakao", "kakao-direct", "toss-direct"] {
        sim_set_scenario(&s.w.sim_url, HONG.phone, "approve");
        let sub = sub_via(&s, provider).await;
        // The same certificate again: nothing to say.
        assert_eq!(sub_via(&s, provider).await, sub, "{provider}");
        assert_eq!(changes(&s, provider, "logged").await, 0, "{provider}");
        // Renewed: the login goes on (certificates are renewed), as the same
        // person, and the operator hears of it once.
        sim_set_scenario(&s.w.sim_url, HONG.phone, "renewed");
        assert_eq!(sub_via(&s, provider).await, sub, "{provider}");
        let line = logged(&s, &[CHANGE, provider, "logged"]).await;
        for private in [hong_ci.as_str(), HONG.name, sub.as_str()] {
            assert!(!line.contains(private), "never logged: {private} in {line}");
        }
        assert_eq!(changes(&s, provider, "logged").await, 1, "{provider}");
        assert_eq!(sub_via(&s, provider).await, sub, "{provider}");
        assert_eq!(
            changes(&s, provider, "logged").await,
            1,
            "{provider}: the renewed one is known now"
        );
    }
    sim_set_scenario(&s.w.sim_url, HONG.phone, "approve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_waits_for_an_operator_and_then_passes() {
    let s = setup(
        "signers-refuse",
        "[audit]\npath = \"audit.log\"\n\n[signers]\non_change = \"refuse\"\n\n[signers.providers.naver]\non_change = \"log\"\n",
    );
    sim_set_scenario(&s.w.sim_url, HONG.phone, "approve");
    let sub = sub_via(&s, "kakao").await;
    let naver_sub = sub_via(&s, "naver").await;
    assert_eq!(naver_sub, sub, "one person, one sub at the site");

    // The renewed certificate at Kakao: refused, the citizen told why.
    sim_set_scenario(&s.w.sim_url, HONG.phone, "renewed");
    let (page, first) = refused_at_continue(&s).await;
    assert!(page.body.contains("이전과 다른 인증서"), "{}", page.body);
    logged(&s, &[CHANGE, "kakao", "refused", &first]).await;
    assert_eq!(changes(&s, "kakao", "refused").await, 1);
    // Naver's own rule is to log: the same renewal passes there.
    assert_eq!(sub_via(&s, "naver").await, sub);
    assert_eq!(changes(&s, "naver", "logged").await, 1);
    // Trying again changes nothing until someone confirms.
    let (_, second) = refused_at_continue(&s).await;

    // The operator, with the admin token: the refused login's reference
    // (on the citizen's page) and the account's site and sub, as JSON.
    let url = format!("{}/admin/signer-changes", s.admin);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let confirm = |body: serde_json::Value, auth: String| {
        let url = url.clone();
        async move { site_api("POST", &url, &auth, Some(&body)).await }
    };
    let other_sub = if sub.ends_with('A') {
        format!("{}B", &sub[..42])
    } else {
        format!("{}A", &sub[..42])
    };
    let good = serde_json::json!({"txn": first, "site": "town", "sub": sub});
    let cases = [
        (good.clone(), String::new(), 401),
        (good.clone(), "Bearer not-the-token".to_owned(), 401),
        (good.clone(), format!("Basic {ADMIN_TOKEN}"), 401),
        (
            serde_json::json!({"txn": first, "site": "town", "sub": other_sub}),
            bearer.clone(),
            404,
        ),
        (
            serde_json::json!({"txn": "nope", "site": "town", "sub": sub}),
            bearer.clone(),
            404,
        ),
        (
            serde_json::json!({"txn": first, "site": "nowhere", "sub": sub}),
            bearer.clone(),
            404,
        ),
        (
            serde_json::json!({"txn": first, "site": "town", "sub": "x"}),
            bearer.clone(),
            400,
        ),
        (
            serde_json::json!({"txn": "../x", "site": "town", "sub": sub}),
            bearer.clone(),
            400,
        ),
        (
            serde_json::json!({"txn": first, "site": "town", "sub": sub, "ci": "x"}),
            bearer.clone(),
            400,
        ),
    ];
    for (body, auth, want) in cases {
        let (status, j) = confirm(body.clone(), auth.clone()).await;
        assert_eq!(status, want, "{body} {auth:?}: {j}");
    }
    let form = Browser::new(None)
        .request_with(
            http::Method::POST,
            &url,
            Some(&[("txn", first.as_str()), ("site", "town"), ("sub", &sub)]),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(form.status, 415, "JSON only");
    let (status, j) = confirm(good.clone(), bearer.clone()).await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["confirmed"], true);
    logged(&s, &["an operator confirmed", "kakao", &first]).await;
    let (status, _) = confirm(good.clone(), bearer.clone()).await;
    assert_eq!(status, 404, "confirmed once");
    // The second refusal was compared with the old certificate: confirming
    // it now could undo the first confirmation, so it is refused.
    let (status, j) = confirm(
        serde_json::json!({"txn": second, "site": "town", "sub": sub}),
        bearer.clone(),
    )
    .await;
    assert_eq!(status, 409, "{j}");

    // The confirmed certificate passes; the old one is now the change.
    assert_eq!(sub_via(&s, "kakao").await, sub);
    sim_set_scenario(&s.w.sim_url, HONG.phone, "approve");
    refused_at_continue(&s).await;
    assert_eq!(changes(&s, "kakao", "refused").await, 3);

    // The audit log has each change and the confirmation, by sub, never the
    // CI (its writer thread appends within moments).
    let counts = |audit: &str| {
        let of = |event: &str, action: Option<&str>| {
            audit
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|r| r["event"] == event)
                .filter(|r| action.is_none_or(|a| r["action"] == a))
                .filter(|r| r["sub"] == sub.as_str())
                .count()
        };
        (
            of("signer.changed", Some("refused")),
            of("signer.changed", Some("logged")),
            of("signer.confirmed", None),
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let audit = loop {
        let audit = std::fs::read_to_string(s.w.dir.path().join("audit.log")).unwrap();
        if counts(&audit) == (3, 1, 1) || std::time::Instant::now() > deadline {
            break audit;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(counts(&audit), (3, 1, 1), "{audit}");
    let ci = munjigi_sim::simulator::ci_of(HONG.name, HONG.birthdate, HONG.phone).unwrap();
    assert!(!audit.contains(&ci));
}

/// A Kakao login whose provider approved, refused when the gateway verifies
/// the result (on the way back to the site): the page, which must not
/// redirect to the site and shows the login's reference, and that reference.
async fn refused_at_continue(s: &Setup) -> (Page, String) {
    let (mut b, base, done) = until_outcome_via(&s.w, "kakao", &[], &HONG).await;
    assert_eq!(done["state"], "completed", "the app approved: {done}");
    let page = b.get(&format!("{base}/continue")).await;
    assert!(
        page.location.is_none(),
        "no code reaches the site: {:?}",
        page.location
    );
    assert!(page.body.contains("MJ-P15"), "{}", page.body);
    let txn = base.rsplit('/').next().unwrap().to_owned();
    assert!(
        page.body.contains(&txn),
        "the page shows the reference: {}",
        page.body
    );
    (page, txn)
}

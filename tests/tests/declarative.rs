//! Providers added by config alone (family D) end to end: a citizen logs in to an
//! Authlib site through `kb` (HMAC, encrypted fields) and through `shinhan`
//! (bearer token, `data` envelope), both `type = "declarative"` with no Rust of
//! their own, and gets the same pairwise `sub` as through `kakao`, because the CI
//! is the person's whichever provider vouched for them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

/// The chooser shows both config-only providers.
const LISTED: &[&str] = &["KB국민인증서", "신한인증서"];

fn world() -> World {
    munjigi_e2e::world("declarative")
}

/// A whole login through `provider`; returns the site's JSON.
async fn login(w: &World, provider: &str, who: &Citizen<'_>) -> serde_json::Value {
    login_via(w, provider, LISTED, who).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_kb_and_shinhan_gives_the_same_sub_as_through_kakao() {
    let w = world();

    let kakao = login(&w, "kakao", &HONG).await;
    let sub = kakao["id_token_claims"]["sub"].as_str().unwrap().to_owned();

    for provider in ["kb", "shinhan"] {
        let r = login(&w, provider, &HONG).await;
        let c = &r["id_token_claims"];
        assert_eq!(c["provider"], provider);
        assert_eq!(c["iss"], w.gw.url.as_str());
        assert_eq!(c["aud"], "town");
        assert_eq!(c["name"], "홍길동");
        assert_eq!(c["birthdate"], "1990-01-31");
        assert_eq!(c["phone_number"], "+821012345678");
        assert_eq!(c["acr"], "urn:munjigi:acr:substantial");
        assert!(c.get("ci").is_none(), "no CI without scope and entitlement");
        assert_eq!(
            c["sub"],
            sub.as_str(),
            "{provider}: one person, one sub, whichever provider"
        );
        assert_eq!(r["userinfo"]["sub"], sub.as_str());
    }

    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("declarative identity verified"),
        "the declarative adapter ran"
    );
    assert!(
        !logs.contains("홍길동")
            && !logs.contains("1012345678")
            && !logs.contains(SHINHAN_SECRET)
            && !logs.contains(KB_HMAC_KEY),
        "no personal data or secrets in gateway logs"
    );
}

/// Issue 18 point 5 end to end: whatever a bank's result answer gets wrong in
/// its shape — a key twice (the genuine value last), U+202E after the name,
/// a birth date as a number, a sealed field moved to another field or copied
/// from another request — the login does not complete, and the gateway's log
/// has a line naming the provider and the reason, with nothing personal in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_are_refused_and_logged_with_the_reason() {
    let w = world();
    for (provider, scenario, reason) in [
        ("kb", "duplicate_keys", "names a key twice"),
        ("shinhan", "duplicate_keys", "names a key twice"),
        ("shinhan", "invisible_name", "result name is malformed"),
        ("kb", "invisible_name", "result name is malformed"),
        ("shinhan", "number_field", "Birthdate is not a JSON string"),
        (
            "kb",
            "swapped_field",
            "Name does not decrypt for this request and field",
        ),
        (
            "kb",
            "replayed_field",
            "Ci does not decrypt for this request and field",
        ),
    ] {
        sim_set_scenario(&w.sim_url, HONG.phone, scenario);
        let (mut b, base, done) = until_outcome_via(&w, provider, LISTED, &HONG).await;
        assert_eq!(done["state"], "completed", "{provider} {scenario}: {done}");
        // The result is fetched and checked when the citizen continues.
        let p = b.get(&format!("{base}/continue")).await;
        assert_eq!(p.status, 200, "{provider} {scenario}: no code is issued");
        assert!(p.body.contains("MJ-P"), "{provider} {scenario}: {}", p.body);
        let logs = w.gw.proc.drain();
        let line = logs
            .iter()
            .find(|l| l.contains("declarative provider's answer refused"))
            .unwrap_or_else(|| panic!("{provider} {scenario}: no refusal line in {logs:#?}"));
        assert!(
            line.contains(&format!("provider={provider}")) && line.contains(reason),
            "{provider} {scenario}: {line}"
        );
        let all = logs.join("\n");
        assert!(
            !all.contains("홍길동")
                && !all.contains("1012345678")
                && !all.contains("19900131")
                && !all.contains("1990-01-31"),
            "{provider} {scenario}: personal data in the log"
        );
    }
}

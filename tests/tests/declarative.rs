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

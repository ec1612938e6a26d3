//! Toss reached directly (family B) end to end: a citizen logs in to an Authlib
//! site through `toss-direct` (the simulator's Toss certificate API under
//! `/toss-direct`: OAuth2 client credentials, RSA-OAEP session keys, AES-GCM
//! personal data, its own root), and gets the same pairwise `sub` as through
//! `kakao` over the barocert broker, because the CI is the person's whichever
//! provider vouched for them. A tampered result through Toss is refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

const LISTED: &[&str] = &["토스 (직접 연동)"];

fn world() -> World {
    munjigi_e2e::world("toss-direct")
}

async fn until_outcome(
    w: &World,
    provider: &str,
    who: &Citizen<'_>,
) -> (Browser, String, serde_json::Value) {
    until_outcome_via(w, provider, LISTED, who).await
}

async fn login(w: &World, provider: &str, who: &Citizen<'_>) -> serde_json::Value {
    login_via(w, provider, LISTED, who).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_toss_direct_gives_the_same_sub_as_through_kakao() {
    let w = world();

    let direct = login(&w, "toss-direct", &HONG).await;
    let c = &direct["id_token_claims"];
    assert_eq!(c["provider"], "toss-direct");
    assert_eq!(c["iss"], w.gw.url.as_str());
    assert_eq!(c["aud"], "town");
    assert_eq!(c["name"], "홍길동");
    assert_eq!(c["birthdate"], "1990-01-31");
    assert_eq!(c["phone_number"], "+821012345678");
    assert_eq!(c["acr"], "urn:munjigi:acr:substantial");
    assert!(c.get("ci").is_none(), "no CI without scope and entitlement");
    let sub = c["sub"].as_str().unwrap().to_owned();
    assert_eq!(direct["userinfo"]["sub"], sub.as_str());

    // The same person through Kakao (over the broker): the same pairwise sub.
    let kakao = login(&w, "kakao", &HONG).await;
    assert_eq!(kakao["id_token_claims"]["provider"], "kakao");
    assert_eq!(
        kakao["id_token_claims"]["sub"],
        sub.as_str(),
        "one person, one sub, whichever provider"
    );

    // A second login through Toss direct reuses the cached token and still works.
    let again = login(&w, "toss-direct", &HONG).await;
    assert_eq!(again["id_token_claims"]["sub"], sub.as_str());

    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("toss_direct identity verified"),
        "adapter ran"
    );
    assert!(
        !logs.contains("홍길동")
            && !logs.contains("1012345678")
            && !logs.contains(TOSS_DIRECT_SECRET),
        "no personal data or client secret in gateway logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_result_through_toss_direct_is_refused() {
    let w = world();
    let who = Citizen {
        phone: "010-0000-0003",
        ..HONG
    };
    let (mut b, base, done) = until_outcome(&w, "toss-direct", &who).await;
    assert_eq!(done["state"], "completed", "{done}");
    let p = b.get(&format!("{base}/continue")).await;
    assert_eq!(p.status, 200, "no code is issued");
    assert!(p.body.contains("MJ-P07"), "{}", p.body);
}

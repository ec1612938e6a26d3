//! Kakao reached directly (family C) end to end: a citizen logs in to an
//! Authlib site through `kakao-direct` (the simulator's Kakao certification API
//! under `/kakao-direct`, REST API key auth, its own root), and gets the same
//! pairwise `sub` as through `kakao` over the barocert broker, because the CI is
//! the person's whichever route reached Kakao. A tampered result through the
//! direct route is refused like any other.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

const LISTED: &[&str] = &["카카오 (직접 연동)"];

fn world() -> World {
    munjigi_e2e::world("kakao-direct")
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
async fn login_through_kakao_direct_gives_the_same_sub_as_through_the_broker() {
    let w = world();

    let direct = login(&w, "kakao-direct", &HONG).await;
    let c = &direct["id_token_claims"];
    assert_eq!(c["provider"], "kakao-direct");
    assert_eq!(c["iss"], w.gw.url.as_str());
    assert_eq!(c["aud"], "town");
    assert_eq!(c["name"], "홍길동");
    assert_eq!(c["birthdate"], "1990-01-31");
    assert_eq!(c["phone_number"], "+821012345678");
    assert_eq!(c["acr"], "urn:munjigi:acr:substantial");
    assert!(c["amr"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(c.get("ci").is_none(), "no CI without scope and entitlement");
    let sub = c["sub"].as_str().unwrap().to_owned();
    assert_eq!(direct["userinfo"]["sub"], sub.as_str());

    // The same person through the broker's Kakao: the same pairwise sub.
    let broker = login(&w, "kakao", &HONG).await;
    assert_eq!(broker["id_token_claims"]["provider"], "kakao");
    assert_eq!(
        broker["id_token_claims"]["sub"],
        sub.as_str(),
        "one person, one sub, whichever Kakao route"
    );

    // Someone else through the direct route: another sub.
    let other = Citizen {
        name: "김철수",
        birthdate: "1985-05-05",
        phone: "010-9999-8888",
    };
    let r = login(&w, "kakao-direct", &other).await;
    assert_ne!(r["id_token_claims"]["sub"], sub.as_str());

    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("kakao_direct identity verified"),
        "adapter ran"
    );
    assert!(
        !logs.contains("홍길동")
            && !logs.contains("1012345678")
            && !logs.contains(KAKAO_DIRECT_KEY),
        "no personal data or API key in gateway logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_result_through_kakao_direct_is_refused() {
    let w = world();
    let who = Citizen {
        phone: "010-0000-0003",
        ..HONG
    };
    let (mut b, base, done) = until_outcome(&w, "kakao-direct", &who).await;
    assert_eq!(done["state"], "completed", "{done}");
    let p = b.get(&format!("{base}/continue")).await;
    assert_eq!(p.status, 200, "no code is issued");
    assert!(p.body.contains("MJ-P07"), "{}", p.body);
}

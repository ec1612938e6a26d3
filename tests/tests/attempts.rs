//! A login the citizen started again is decided by the new attempt alone:
//! a slow verification of the attempt they left (the provider's result call
//! answering seconds later) does not log them in as the person of that
//! attempt, and the new attempt completes as itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_verification_of_a_left_attempt_does_not_finish_the_login() {
    let w = world("attempts");
    // The first attempt's person: approves, the result call takes 3 s.
    let first = Citizen {
        name: "최민호",
        birthdate: "1980-10-10",
        phone: "010-6060-1717",
    };
    sim_set_scenario(&w.sim_url, first.phone, "slow_result");

    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    let wait = pick_provider_and_submit(&mut b, &chooser_url, "kakao", &first).await;
    let base = absolute(&chooser_url, wait.trim_end_matches("/wait"));
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    // The login's CSRF token, from its identity form.
    let form = b.get(&format!("{base}/identify?provider=kakao")).await;
    let csrf = form.input_value("csrf").unwrap();

    // The same browser (a second tab) asks to continue: verification of
    // attempt 1 starts and takes 3 s.
    let mut tab = Browser::new(None);
    for (name, value) in b
        .cookie_header_value()
        .split("; ")
        .filter_map(|c| c.split_once('='))
    {
        tab.set_cookie(name, value);
    }
    let slow_url = format!("{base}/continue");
    let slow = tokio::spawn(async move {
        let r = tab.get(&slow_url).await;
        (r.status, r.location)
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Meanwhile the citizen cancels and logs in as someone else (attempt 2),
    // who approves at once; the site is not asked to continue yet.
    let cancelled = b.post(&format!("{base}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let wait2 = pick_provider_and_submit(&mut b, &base, "kakao", &HONG).await;
    assert_eq!(
        absolute(&base, &wait2),
        absolute(&base, &wait),
        "the same login"
    );
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");

    // Attempt 1's verification ends: it finishes nothing, and sends its
    // tab to the login's waiting page.
    let (status, location) = slow.await.unwrap();
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(
        location.ends_with("/wait"),
        "the left attempt must not complete the login: {location}"
    );
    let logged = w.gw.proc.drain().join("\n");
    assert!(
        logged.contains("verified result of an attempt the citizen left"),
        "{logged}"
    );

    // Attempt 2 completes as its own person.
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let claims = page.json();
    let text = claims.to_string();
    assert!(text.contains(HONG.name), "{text}");
    assert!(!text.contains(first.name), "{text}");
}

//! App-to-app: a citizen whose browser runs on the phone with the
//! provider's app opens the app from the waiting page instead of waiting for
//! a push, and the login completes when they come back (by the app's return
//! to the waiting page for Kakao and Toss, by switching back for Naver and
//! PASS and Toss direct). Each broker product's rules are the simulator's to enforce (Naver
//! and PASS need the OS, PASS the carrier, only Kakao and Toss take a web
//! return); the simulator's app opens exactly the link it issued, and
//! nothing happens to an app-to-app request before the app is opened.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; SM-S928N) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn browser(ua: &str) -> Browser {
    let mut b = Browser::new(None);
    b.always.push(("user-agent".into(), ua.into()));
    b
}

/// The value of attribute `attr` of the element with `id`, unescaped.
fn attr_of(html: &str, id: &str, attr: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let v = tag.split(&format!("{attr}=\"")).nth(1)?;
    Some(html_unescape(&v[..v.find('"')?]))
}

/// Chooser to identity form for `provider`; returns the login's base URL
/// and the form page.
async fn form_for(b: &mut Browser, w: &World, provider: &str) -> (String, Page) {
    let (chooser, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let form = b.get(&format!("{base}/identify?provider={provider}")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    (base, form)
}

async fn submit(
    b: &mut Browser,
    base: &str,
    form: &Page,
    provider: &str,
    extra: &[(&str, &str)],
) -> Page {
    post_identity(b, base, form, provider, &HONG, extra).await
}

async fn finish(b: &mut Browser, base: &str) -> serde_json::Value {
    let done = wait_done(b, base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broker_product_opens_its_app_on_a_phone_and_the_login_completes_on_return() {
    let w = world("a2a");
    let push_sub = {
        // The same person by push, from a desktop: the reference `sub`.
        let mut b = browser(DESKTOP);
        let (base, form) = form_for(&mut b, &w, "kakao").await;
        assert!(
            form.body.contains("value=\"push\" checked"),
            "a desktop preselects the push: {}",
            form.body
        );
        let r = submit(&mut b, &base, &form, "kakao", &[("reach", "push")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let wait_url = r.location.unwrap();
        let wait = b.get(&wait_url).await;
        assert!(!wait.body.contains("mj-app-open"), "{}", wait.body);
        // A pushed login's page in another browser stays refused.
        let other = browser(DESKTOP).get(&wait_url).await;
        assert_eq!(other.status, 403, "{}", other.body);
        assert!(other.body.contains("MJ-T02"), "{}", other.body);
        finish(&mut b, &base).await["sub"].clone()
    };
    // product, phone, scheme prefix, store page, app returns by itself
    let cases = [
        ("kakao", ANDROID, "kakaotalk://", None, true),
        (
            "naver",
            IPHONE,
            "naversearchapp://",
            Some("https://apps.apple.com/"),
            false,
        ),
        (
            "pass",
            ANDROID,
            "passcert://",
            Some("https://play.google.com/"),
            false,
        ),
        ("toss", IPHONE, "supertoss://", None, true),
        // Toss direct: the link for the phone's OS, no return address.
        ("toss-direct", ANDROID, "intent://toss-cert/", None, false),
        ("toss-direct", IPHONE, "supertoss://toss-cert/", None, false),
    ];
    // The phone's side: the provider's app, as the simulator serves it.
    let mut http = Browser::new(None);
    for (provider, ua, scheme, market, returns) in cases {
        let mut b = browser(ua);
        let (base, form) = form_for(&mut b, &w, provider).await;
        assert!(
            form.body.contains("value=\"app\" checked"),
            "{provider}: a phone preselects the app: {}",
            form.body
        );
        if provider == "pass" {
            // PASS needs the carrier: without it the form comes back.
            let r = submit(&mut b, &base, &form, provider, &[("reach", "app")]).await;
            assert_eq!(r.status, 422, "{}", r.body);
            assert!(r.body.contains("href=\"#carrier\""), "{}", r.body);
            assert!(
                attr_of(&r.body, "carrier", "aria-invalid").as_deref() == Some("true"),
                "{}",
                r.body
            );
        }
        let extra: &[(&str, &str)] = if provider == "pass" {
            &[("reach", "app"), ("carrier", "KT")]
        } else {
            &[("reach", "app")]
        };
        let r = submit(&mut b, &base, &form, provider, extra).await;
        assert_eq!(r.status, 303, "{provider}: {}", r.body);
        let wait_url = r.location.unwrap();
        let wait = b.get(&wait_url).await;
        let link = attr_of(&wait.body, "mj-app-open", "href")
            .unwrap_or_else(|| panic!("{provider}: no open-the-app button: {}", wait.body));
        assert!(link.starts_with(scheme), "{provider}: {link}");
        let store = attr_of(&wait.body, "mj-app-market", "href");
        match market {
            Some(m) => assert!(
                store.as_deref().is_some_and(|s| s.starts_with(m)),
                "{provider}: {store:?}"
            ),
            None => assert_eq!(store, None, "{provider}"),
        }
        // The app's return opened in another browser of the phone: it is
        // sent back to the first one, and the login goes on there.
        let mut elsewhere = browser(ua);
        let other = elsewhere.get(&wait_url).await;
        assert_eq!(other.status, 200, "{provider}: {}", other.body);
        assert!(other.body.contains("MJ-T07"), "{provider}: {}", other.body);
        // Nothing is pushed: well past the simulated citizen's 300 ms the
        // request is still untouched, until the app is opened.
        let s = b.get(&format!("{base}/status?wait=2")).await.json();
        assert_eq!(s["state"], "pending", "{provider}: {s}");
        // The phone hands the link to the app; its screen names the request.
        let enc = encode(&link);
        let screen = http
            .get(&format!("{}/_app/open?link={enc}", w.sim_url))
            .await;
        assert_eq!(screen.status, 200, "{provider}: {}", screen.body);
        // A link the simulator did not issue opens nothing.
        let forged = http
            .get(&format!(
                "{}/_app/open?link={}",
                w.sim_url,
                encode(&format!("{link}0"))
            ))
            .await;
        assert_eq!(forged.status, 404, "{provider}");
        let approved = http
            .post(
                &format!("{}/_app/approve", w.sim_url),
                &[("link", link.as_str())],
            )
            .await;
        if returns {
            // The app opens the waiting page it was given, on the gateway.
            assert_eq!(approved.status, 303, "{provider}: {}", approved.body);
            assert_eq!(
                approved.location.as_deref(),
                Some(wait_url.as_str()),
                "{provider}"
            );
            assert!(wait.body.contains("mj-steps"));
        } else {
            assert_eq!(approved.status, 200, "{provider}");
            assert!(
                approved.body.contains("id=\"done\""),
                "{provider}: {}",
                approved.body
            );
        }
        // Back on the waiting page (by the app or by hand): it moves on.
        let claims = finish(&mut b, &base).await;
        assert_eq!(claims["sub"], push_sub, "{provider}: the same person");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_on_a_phone_may_still_choose_the_push() {
    let w = world("a2a-push");
    let mut b = browser(ANDROID);
    let (base, form) = form_for(&mut b, &w, "naver").await;
    assert!(form.body.contains("value=\"app\" checked"));
    let r = submit(&mut b, &base, &form, "naver", &[("reach", "push")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let wait = b.get(&r.location.unwrap()).await;
    assert!(!wait.body.contains("mj-app-open"), "{}", wait.body);
    // The push completes by itself, as on a desktop.
    finish(&mut b, &base).await;
    // A desktop that asks for the app anyway (an iPad in desktop mode) gets it.
    let mut d = browser(DESKTOP);
    let (base, form) = form_for(&mut d, &w, "kakao").await;
    let r = submit(&mut d, &base, &form, "kakao", &[("reach", "app")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let wait = d.get(&r.location.unwrap()).await;
    assert!(
        attr_of(&wait.body, "mj-app-open", "href").is_some(),
        "{}",
        wait.body
    );
}

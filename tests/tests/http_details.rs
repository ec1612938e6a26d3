//! The HTTP details clients rely on (issue 19): authentication scheme names
//! are case-insensitive (RFC 7235 §2.1) at `/token`, `/userinfo` and the
//! signing API; `/userinfo` without any credentials answers a bare `Bearer`
//! challenge (RFC 6750 §3.1); a repeated `/authorize` parameter goes back to
//! the site as `invalid_request` once the client and redirect URI are known
//! (RFC 6749 §4.1.2.1), and is a page while they are not. Real gateway,
//! real simulator, the Authlib site for a genuine access token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

async fn call(
    method: http::Method,
    url: &str,
    form: Option<&[(&str, &str)]>,
    authorization: Option<&str>,
) -> Page {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    Browser::new(None)
        .request_with(method, url, form, &headers)
        .await
}

/// `scheme` followed by the base64 of `town`'s credentials.
fn basic(scheme: &str, secret: &str) -> String {
    let b = basic_auth("town", secret);
    format!("{scheme}{}", b.trim_start_matches("Basic "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheme_names_are_case_insensitive_everywhere() {
    let w = world_with("http-schemes", "\n[signing]\naudit_log = \"audit.log\"\n");
    let token_url = format!("{}/token", w.gw.url);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "no-such-code"),
        ("redirect_uri", w.redirect.as_str()),
    ];
    // The client authenticates whatever the case and spacing of `Basic`: a
    // bogus code is then the only thing wrong (invalid_grant).
    for scheme in ["Basic ", "basic ", "BASIC ", "bAsIc   "] {
        let auth = basic(scheme, CLIENT_SECRET);
        let r = call(http::Method::POST, &token_url, Some(&form), Some(&auth)).await;
        assert_eq!(r.status, 400, "{scheme:?}: {}", r.body);
        assert_eq!(r.json()["error"], "invalid_grant", "{scheme:?}: {}", r.body);
        let wrong = basic(scheme, "not-the-secret-0123456789");
        let r = call(http::Method::POST, &token_url, Some(&form), Some(&wrong)).await;
        assert_eq!(r.status, 401, "{scheme:?}: {}", r.body);
        assert_eq!(r.json()["error"], "invalid_client");
    }
    // Another scheme is still not client authentication.
    let r = call(
        http::Method::POST,
        &token_url,
        Some(&form),
        Some("Digest username=\"town\""),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_request");

    // The signing API: `basic` as well as `Basic`.
    for scheme in ["Basic ", "basic "] {
        let (status, j) = site_api(
            "GET",
            &format!("{}/api/v1/signatures/no-such-request", w.gw.url),
            &basic(scheme, CLIENT_SECRET),
            None,
        )
        .await;
        assert_eq!(status, 404, "{scheme:?}: {j}");
    }

    // /userinfo: `bearer` with a genuine token; a bare challenge without one.
    let r = login_via(&w, "kakao", &[], &HONG).await;
    let at = r["access_token"].as_str().unwrap().to_owned();
    let userinfo = format!("{}/userinfo", w.gw.url);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme}  {at}");
        let r = call(http::Method::GET, &userinfo, None, Some(&auth)).await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
        assert_eq!(r.json()["name"], "홍길동");
    }
    for method in [http::Method::GET, http::Method::POST] {
        let r = call(method.clone(), &userinfo, None, None).await;
        assert_eq!(r.status, 401, "{method}: {}", r.body);
        assert_eq!(
            r.headers["www-authenticate"], "Bearer realm=\"munjigi\"",
            "{method}: no error code without credentials"
        );
        assert!(!r.body.contains("error"), "{}", r.body);
    }
    let r = call(http::Method::GET, &userinfo, None, Some("Bearer nope")).await;
    assert_eq!(r.status, 401);
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    let r = call(http::Method::GET, &userinfo, None, Some("Basic abc")).await;
    assert_eq!(r.status, 400, "another scheme: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_authorize_parameter_goes_back_to_the_site() {
    let w = world("http-repeats");
    let redirect = w.redirect.clone();
    let base = format!(
        "{}/authorize?client_id=town&redirect_uri={}&response_type=code",
        w.gw.url,
        web_encode(&redirect)
    );
    for (extra, named) in [
        (
            "&scope=openid&scope=openid%20profile&state=s1",
            Some("scope"),
        ),
        ("&scope=openid&state=s1&state=s2", Some("state")),
        ("&scope=openid&nonce=a&nonce=b&state=s1", Some("nonce")),
        ("&scope=openid&%C3%A9=1&%C3%A9=2&state=s1", None),
    ] {
        let r = Browser::new(None).get(&format!("{base}{extra}")).await;
        assert_eq!(r.status, 303, "{extra}: {}", r.body);
        let loc = r.location.clone().unwrap();
        assert!(loc.starts_with(&redirect), "{extra}: {loc}");
        assert!(loc.contains("error=invalid_request"), "{extra}: {loc}");
        match named {
            Some(k) => assert!(loc.contains(k), "{extra}: {loc}"),
            None => assert!(loc.contains("a+parameter+appears"), "{extra}: {loc}"),
        }
        // The values of a repeated state are dropped, never echoed.
        assert_eq!(
            loc.contains("state=s1"),
            named != Some("state"),
            "{extra}: {loc}"
        );
    }
    // Before the client and its redirect URI are known: a page, no redirect.
    for url in [
        format!(
            "{}/authorize?client_id=town&client_id=town&redirect_uri={}&response_type=code&scope=openid",
            w.gw.url,
            web_encode(&redirect)
        ),
        format!(
            "{}/authorize?client_id=town&redirect_uri={r}&redirect_uri={r}&response_type=code&scope=openid",
            w.gw.url,
            r = web_encode(&redirect)
        ),
    ] {
        let r = Browser::new(None).get(&url).await;
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert!(r.location.is_none());
    }
}

fn web_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

//! One canonical path, decided once: the proxy and forward-auth in front of a
//! real upstream that resolves dot segments after decoding (Python's
//! `http.server`, as many frameworks do), attacked with the spellings that
//! made other proxies serve a protected file as a public one. Also the
//! neighbouring holes of the same review: a session used on another site's
//! route, links built from a request, a client-chosen `Host`, and upgrades
//! other than WebSocket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::nginx::{forward_auth_example, start_nginx};
use munjigi_e2e::upstream::{start_upstream, Upstream};
use munjigi_e2e::wire::{raw_request, RawResponse};
use munjigi_e2e::*;
use std::path::Path;
use std::process::Command;

/// What only a logged-in citizen may read.
const SECRET: &str = "PRIVATE-7f3a-for-logged-in-citizens-only";
const PUBLIC: &str = "PUBLIC-index";
const HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// Python's `http.server` over a folder with a private file beside (and
/// above) a public folder; it decodes the target and resolves `..`.
fn start_resolving_upstream(dir: &Path) -> (Proc, u16) {
    let root = dir.join("www");
    std::fs::create_dir_all(root.join("app/public/.well-known")).unwrap();
    std::fs::write(root.join("app/private.txt"), SECRET).unwrap();
    std::fs::write(root.join("private.txt"), SECRET).unwrap();
    std::fs::write(root.join("app/public/index.txt"), PUBLIC).unwrap();
    std::fs::write(root.join("app/public/file name.txt"), "odd-space").unwrap();
    std::fs::write(root.join("app/public/café.txt"), "odd-utf8").unwrap();
    std::fs::write(root.join("app/public/~tilde;v=1.txt"), "odd-tilde").unwrap();
    std::fs::write(root.join("app/public/.well-known/x.txt"), "odd-dotfile").unwrap();
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-u",
        "-m",
        "http.server",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--directory",
    ])
    .arg(&root);
    let (p, _) = Proc::start("http.server", cmd, "Serving HTTP");
    (p, port)
}

/// Request targets that name `private.txt` to some reader while starting
/// like the public folder: dot segments in every encoding, double
/// encodings, encoded separators, `..;`, `//`, backslashes, overlong and
/// look-alike dots, trailing dots, NUL, case games.
fn spellings(public: &str) -> Vec<String> {
    let p = public.trim_end_matches('/');
    [
        "/../private.txt",
        "/%2e%2e/private.txt",
        "/%2E%2E/private.txt",
        "/%2e%2E/private.txt",
        "/.%2e/private.txt",
        "/%2e./private.txt",
        "/./../private.txt",
        "/%2e/%2e%2e/private.txt",
        "/x/../../private.txt",
        "/%252e%252e/private.txt",
        "/%252E%252E/private.txt",
        "/..%252fprivate.txt",
        "/..%2fprivate.txt",
        "/..%2Fprivate.txt",
        "/%2e%2e%2fprivate.txt",
        "/..;/private.txt",
        "/%2e%2e;/private.txt",
        "/..;x=1/private.txt",
        "/..%5cprivate.txt",
        "/..%5Cprivate.txt",
        "/..\\private.txt",
        "//../private.txt",
        "/..//private.txt",
        "/.%00./private.txt",
        "/..%00/private.txt",
        "/%c0%ae%c0%ae/private.txt",
        "/%C0%AE%C0%AE/private.txt",
        "/%e0%80%ae%e0%80%ae/private.txt",
        "/%ef%bc%8e%ef%bc%8e/private.txt",
        "/.../private.txt",
        "/../private.txt.",
        "/..%20/private.txt",
        "/%u002e%u002e/private.txt",
        "/../../app/private.txt",
    ]
    .iter()
    .map(|s| format!("{p}{s}"))
    .chain([
        format!("{p}%2f..%2fprivate.txt"),
        format!("{}/../private.txt", p.to_ascii_uppercase()),
        format!("/%2e%2e{p}/../private.txt"),
    ])
    .collect()
}

async fn get_raw(authority: &str, target: &str, host: &str, extra: &[String]) -> RawResponse {
    let authority = authority.to_owned();
    let mut head = vec![
        format!("GET {target} HTTP/1.1"),
        format!("Host: {host}"),
        format!("Accept: {HTML}"),
        "Connection: close".to_owned(),
    ];
    head.extend(extra.iter().cloned());
    tokio::task::spawn_blocking(move || {
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        raw_request(&authority, &head, b"")
    })
    .await
    .unwrap()
}

fn body(r: &RawResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Every spelling, sent without a session: none may return the secret.
async fn assert_no_spelling_leaks(authority: &str, host: &str, public: &str, what: &str) {
    let all = spellings(public);
    assert!(all.len() >= 25, "a corpus of at least 25 spellings");
    for target in &all {
        let r = get_raw(authority, target, host, &[]).await;
        assert!(
            !body(&r).contains(SECRET),
            "{what}: `{target}` served the private file without a login ({})",
            r.status
        );
        assert_ne!(
            r.status,
            200,
            "{what}: `{target}` answered 200: {}",
            body(&r)
        );
    }
}

struct World {
    dir: TempDir,
    _sim: Proc,
    _py: Proc,
    py_port: u16,
    gw: Gateway,
    echo: Upstream,
    authority: String,
}

async fn world(tag: &str, server_extra: &str, extra: &str) -> World {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (py, py_port) = start_resolving_upstream(dir.path());
    let echo = start_upstream().await;
    let port = free_port();
    let up = &echo.url;
    let routes = format!(
        r#"
[routes.files]
site = "town"
prefix = "/app/"
upstream = "http://127.0.0.1:{py_port}"
public_paths = ["/app/public/"]

[routes.echo]
site = "town"
prefix = "/echo/"
upstream = "{up}"
public_paths = ["/echo/pub/"]

[routes.folded]
site = "town"
prefix = "/ci/"
upstream = "{up}"
public_paths = ["/ci/open/"]
case_insensitive = true

[routes.slashes]
site = "town"
prefix = "/e/"
upstream = "{up}"
public_paths = ["/e/"]
allow_empty_segments = true

[routes.kept]
site = "town"
prefix = "/kept/"
upstream = "{up}"
public_paths = ["/kept/"]
preserve_host = true

[policies.naveronly]
providers = ["naver"]

[sites.naversite]
name = "네이버만 받는 곳"
policy = "naveronly"

[routes.naver]
site = "naversite"
prefix = "/naver/"
upstream = "{up}"
"#
    );
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: "http://127.0.0.1:9/callback".into(),
            server_extra: server_extra.to_owned(),
            port: Some(port),
            extra: format!("{routes}\n{extra}"),
            ..GatewayOpts::default()
        },
    );
    World {
        dir,
        _sim: sim,
        _py: py,
        py_port,
        gw,
        echo,
        authority: format!("127.0.0.1:{port}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_path_reaches_a_protected_file_through_the_proxy() {
    let w = world("paths-proxy", "", "").await;
    let a = w.authority.clone();
    assert_no_spelling_leaks(&a, &a, "/app/public/", "proxy").await;

    // The upstream would have served it: it resolves `..` (the oracle can fail).
    let direct = get_raw(
        &format!("127.0.0.1:{}", w.py_port),
        "/app/public/../private.txt",
        "x",
        &[],
    )
    .await;
    assert!(
        body(&direct).contains(SECRET),
        "python resolves dot segments"
    );

    // Refusals are 400 with a log line naming the reason, never the path.
    let r = get_raw(&a, "/app/public/%252e%252e/private.txt", &a, &[]).await;
    assert_eq!(r.status, 400);
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("MJ-X06") && logs.contains("double percent-encoding"),
        "{logs}"
    );
    assert!(
        !logs.contains("%252e"),
        "the attacker's path is not logged: {logs}"
    );

    // Odd but valid paths still work, decoded by the upstream as usual.
    for (target, want) in [
        ("/app/public/index.txt", PUBLIC),
        ("/app/public/./index.txt", PUBLIC),
        ("/app/public/sub/../index.txt", PUBLIC),
        ("/app/public/file%20name.txt", "odd-space"),
        ("/app/public/caf%C3%A9.txt", "odd-utf8"),
        ("/app/public/caf%c3%a9.txt", "odd-utf8"),
        ("/app/public/%7Etilde;v=1.txt", "odd-tilde"),
        ("/app/public/.well-known/x.txt", "odd-dotfile"),
        ("/app/%70ublic/index.txt", PUBLIC),
    ] {
        let r = get_raw(&a, target, &a, &[]).await;
        assert_eq!((r.status, body(&r).as_str()), (200, want), "{target}");
    }

    // The upstream receives exactly the canonical path that was decided on.
    w.echo.clear();
    let r = get_raw(&a, "/echo/pub/a/%2E%2e/b%7e/c%c3%a9?q=%2e%2e", &a, &[]).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let seen = w.echo.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/echo/pub/b~/c%C3%A9");
    assert_eq!(seen[0].query, "q=%2e%2e", "the query as received");

    // After a login the private file is there: the corpus was refused, not broken.
    let mut b = Browser::new(None);
    let page = proxy_login(&mut b, &w.gw.url, &format!("{}/app/private.txt", w.gw.url)).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, SECRET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_folding_and_empty_segments_are_the_routes_choice() {
    let w = world("paths-route-opts", "", "").await;
    let a = w.authority.clone();
    // Case-sensitive by default: /APP/ is not the /app/ route at all.
    let r = get_raw(&a, "/APP/public/index.txt", &a, &[]).await;
    assert_eq!(r.status, 404);
    // A case-insensitive route folds both the prefix and its public paths.
    w.echo.clear();
    let r = get_raw(&a, "/CI/Open/x", &a, &[]).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(w.echo.requests()[0].path, "/CI/Open/x");
    let r = get_raw(&a, "/Ci/closed", &a, &[]).await;
    assert_eq!(r.status, 303, "not public: to the login");
    // `//` is refused unless the route allows it.
    w.echo.clear();
    for target in [
        "/echo/pub//x",
        "/echo//pub/x",
        "//echo/pub/x",
        "/ci/open//x",
    ] {
        let r = get_raw(&a, target, &a, &[]).await;
        assert_eq!(r.status, 400, "{target}");
    }
    assert!(w.echo.requests().is_empty());
    // A path that Tomcat-style upstreams read differently (`;params`
    // dropped) must decide the same either way, or is refused.
    w.echo.clear();
    let r = get_raw(&a, "/echo/pub;x/y", &a, &[]).await;
    assert_eq!(r.status, 400, "{}", body(&r));
    // No route covers it as written: the gateway's own 404, never proxied.
    let r = get_raw(&a, "/echo;v=1/pub/y", &a, &[]).await;
    assert_eq!(r.status, 404, "{}", body(&r));
    assert!(w.echo.requests().is_empty());
    let r = get_raw(&a, "/echo/pub/y;v=1", &a, &[]).await;
    assert_eq!(r.status, 200, "a parameter that changes nothing is fine");
    w.echo.clear();
    let r = get_raw(&a, "/e//x", &a, &[]).await;
    assert_eq!(r.status, 200, "{}", body(&r));
    assert_eq!(w.echo.requests()[0].path, "/e//x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_answers_only_for_canonical_targets() {
    let nginx_port = free_port();
    let w = world(
        "paths-nginx",
        "trusted_proxies = [\"127.0.0.1/32\"]",
        &format!(
            "[routes.front]\nsite = \"town\"\nhost = \"localhost:{nginx_port}\"\npublic_paths = [\"/app/public/\"]\n"
        ),
    )
    .await;
    let gw_port: u16 = w.authority.rsplit(':').next().unwrap().parse().unwrap();
    // The documented nginx example, its application being the resolving upstream.
    let conf = forward_auth_example(nginx_port, gw_port, w.py_port);
    let n = start_nginx(&w.dir.path().join("nginx"), nginx_port, &conf);
    let front = format!("127.0.0.1:{nginx_port}");
    let host = format!("localhost:{nginx_port}");
    assert_no_spelling_leaks(&front, &host, "/app/public/", "forward-auth").await;

    // Asked directly (as a front proxy that forwards raw targets would), the
    // gateway refuses every non-canonical target with 403 (nginx passes 401
    // and 403 on), for a public-looking path as well.
    for target in spellings("/app/public/") {
        let r = get_raw(
            &w.authority,
            "/.munjigi/auth",
            &host,
            &[
                format!("X-Original-URI: {target}"),
                format!("X-Forwarded-Host: {host}"),
            ],
        )
        .await;
        assert!(
            r.status == 403 || r.status == 401,
            "`{target}`: {} {}",
            r.status,
            body(&r)
        );
    }

    // Two descriptions of the target that differ (a client's own
    // X-Forwarded-Uri passed on by nginx) are refused, not chosen between.
    let r = get_raw(
        &front,
        "/app/private.txt",
        &host,
        &["X-Forwarded-Uri: /app/public/index.txt".to_owned()],
    )
    .await;
    assert_eq!(r.status, 403, "{}", body(&r));
    assert!(!body(&r).contains(SECRET));
    for (target, want) in [
        ("/app/public/index.txt", PUBLIC),
        ("/app/public/file%20name.txt", "odd-space"),
        ("/app/public/caf%C3%A9.txt", "odd-utf8"),
        ("/app/public/~tilde;v=1.txt", "odd-tilde"),
        ("/app/public/.well-known/x.txt", "odd-dotfile"),
    ] {
        let r = get_raw(&front, target, &host, &[]).await;
        assert_eq!(
            (r.status, body(&r).as_str()),
            (200, want),
            "{target}\n{}",
            n.error_log()
        );
    }

    // Logged in, the private file is served: the refusals above were not an outage.
    let mut b = Browser::new(None).navigating();
    let page = proxy_login(&mut b, &w.gw.url, &format!("http://{host}/app/private.txt")).await;
    assert_eq!(page.status, 200, "{}", n.error_log());
    assert_eq!(page.body, SECRET);
    // … but still only for canonical targets.
    let cookie = format!("Cookie: mj_px={}", b.cookie("mj_px").unwrap());
    let r = get_raw(&front, "/app/public/../private.txt", &host, &[cookie]).await;
    assert_eq!(r.status, 403, "{}", body(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_one_sites_route_must_satisfy_the_other_sites_policy() {
    let w = world("paths-site", "", "").await;
    let mut b = Browser::new(None);
    // Logged in with Kakao on the town site's route.
    let page = proxy_login(&mut b, &w.gw.url, &format!("{}/app/private.txt", w.gw.url)).await;
    assert_eq!(page.body, SECRET);
    // The same host's route of a site that allows only Naver: log in again.
    w.echo.clear();
    b.accept = Some(HTML);
    let r = b.get(&format!("{}/naver/x", w.gw.url)).await;
    assert_eq!(r.status, 303, "to the login, not through: {r:?}");
    assert!(
        r.location.as_deref().unwrap().contains("/proxy/start?"),
        "{r:?}"
    );
    assert!(w.echo.requests().is_empty(), "the upstream saw nothing");
    b.accept = None;
    let r = b.get(&format!("{}/naver/x", w.gw.url)).await;
    assert_eq!(r.status, 401, "a non-navigation gets 401");
    // Its /proxy/start does not answer from the Kakao SSO session either.
    let start = {
        b.accept = Some(HTML);
        let r = b.get(&format!("{}/naver/x", w.gw.url)).await;
        r.location.unwrap()
    };
    let r = b.get(&start).await;
    assert_eq!(r.status, 303);
    assert!(
        !r.location
            .as_deref()
            .unwrap()
            .contains("/.munjigi/callback"),
        "a new login, not a hand-over: {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostless_routes_send_the_configured_host_and_only_websocket_upgrades() {
    let w = world("paths-host", "", "").await;
    let a = w.authority.clone();
    // A Host the gateway does not know: the upstream hears the gateway's own.
    w.echo.clear();
    let r = get_raw(
        &a,
        "/kept/x",
        "evil.example",
        &[
            "X-Forwarded-Host: evil.example".into(),
            "X-Original-URL: /admin".into(),
            "X-Rewrite-URL: /admin".into(),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", body(&r));
    let seen = &w.echo.requests()[0];
    let h = |n: &str| seen.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h("x-forwarded-host").as_deref(), Some(a.as_str()));
    assert_eq!(
        h("host").as_deref(),
        Some(a.as_str()),
        "preserve_host keeps the configured host"
    );
    assert!(
        h("x-original-url").is_none() && h("x-rewrite-url").is_none(),
        "no header names another target"
    );
    w.echo.clear();
    let r = get_raw(&a, "/echo/pub/x", "evil.example", &[]).await;
    assert_eq!(r.status, 200);
    let seen = &w.echo.requests()[0];
    assert_eq!(
        seen.headers
            .get("x-forwarded-host")
            .unwrap()
            .to_str()
            .unwrap(),
        a
    );

    // h2c (and anything but WebSocket) is refused before the upstream.
    w.echo.clear();
    for (conn, up) in [
        ("Upgrade, HTTP2-Settings", "h2c"),
        ("upgrade", "websocket, h2c"),
        ("Upgrade", "TLS/1.2"),
    ] {
        let r = get_raw(
            &a,
            "/echo/pub/x",
            &a,
            &[
                format!("Connection: {conn}"),
                format!("Upgrade: {up}"),
                "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA".into(),
            ],
        )
        .await;
        assert_eq!(r.status, 400, "{up}: {}", body(&r));
    }
    assert!(
        w.echo.requests().is_empty(),
        "no upgrade reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_on_error_pages_never_leave_the_gateway() {
    let w = world("paths-links", "", "").await;
    let a = w.authority.clone();
    for target in [
        "//evil.example/",
        "//evil.example/x?lang=en",
        "/\\evil.example",
        "/%5cevil.example",
        "/%2f%2fevil.example",
        "/login/..//evil.example",
        "/nothing/here",
    ] {
        let r = get_raw(&a, target, &a, &[]).await;
        let page = body(&r);
        assert!(r.status == 400 || r.status == 404, "{target}: {}", r.status);
        for href in page.split("href=\"").skip(1) {
            let href = href.split('"').next().unwrap();
            if href.starts_with('#') {
                continue;
            }
            assert!(
                href.starts_with('/') && !href.starts_with("//") && !href.contains('\\'),
                "{target}: link `{href}`"
            );
            assert!(!href.contains("evil"), "{target}: link `{href}`");
        }
        assert!(
            page.contains("?lang="),
            "{target}: the page has its language links"
        );
    }
}

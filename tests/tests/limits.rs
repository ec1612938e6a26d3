//! Abuse limits, driven over each threshold through the real gateway, the
//! simulated providers and a real site: pushes to one phone (one gateway, two
//! replicas on one Redis, a Redis Cluster), login starts per client and per
//! site, and a flood of anonymous logins that must leave the token exchange
//! of a citizen already logged in working.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::wire::raw_request;
use munjigi_e2e::*;

const VICTIM: Citizen<'static> = Citizen {
    name: "홍길동",
    birthdate: "1990-01-31",
    phone: "010-7777-1234",
};

const PERSON_LIMITS: &str = "pushes_per_person = [\"5/10m\", \"20/1d\"]\nstarts_per_client = [\"1000000/1m\"]\nsubmissions_per_client = [\"1000000/1m\"]\nstarts_per_site = [\"1000000/1s\"]\n";

/// `url` (absolute or a path) with its path on `host`.
fn on(url: &str, host: &str) -> String {
    let at = url
        .find("/login/")
        .or_else(|| url.find("/authorize"))
        .unwrap();
    format!("{host}{}", &url[at..])
}

struct Tried {
    page: Page,
    /// The login's base URL on the host that served it.
    base: String,
}

/// A new browser starts a login at the site, and submits `who` for Kakao on
/// `host` (a replica's URL), in `lang`.
async fn try_push(site_url: &str, host: &str, who: &Citizen<'_>, lang: &str) -> Tried {
    let mut b = Browser::new(None);
    let p = b.get(&format!("{site_url}/login")).await;
    let authorize = p.location.unwrap();
    let p = b.get(&on(&authorize, host)).await;
    assert_eq!(p.status, 303, "authorize: {}", p.body);
    let base = on(&p.location.unwrap(), host);
    let form = b
        .get(&format!("{base}/identify?provider=kakao&lang={lang}"))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.input_value("csrf").unwrap();
    let page = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "kakao"),
                ("name", who.name),
                ("birthdate", who.birthdate),
                ("phone", who.phone),
                ("consent", "yes"),
            ],
        )
        .await;
    if page.status == 303 {
        let wait = b.get(&format!("{base}/wait")).await;
        assert_eq!(wait.status, 200);
        return Tried { page: wait, base };
    }
    Tried { page, base }
}

/// The two digits after `확인번호 ` in a push title.
fn code_in_title(title: &str) -> String {
    let at = title
        .find("확인번호 ")
        .unwrap_or_else(|| panic!("no code in `{title}`"));
    title[at + "확인번호 ".len()..].chars().take(2).collect()
}

/// The code the waiting page shows.
fn code_on_page(html: &str) -> String {
    let at = html
        .find("mj-pushcode__value\">")
        .expect("the waiting page shows a code");
    html[at + "mj-pushcode__value\">".len()..]
        .chars()
        .take(2)
        .collect()
}

/// Twenty rapid starts to one phone, spread over `hosts`: five pushes, then
/// 429 pages in both languages; the codes on the waiting pages are those the
/// simulated app showed.
async fn twenty_starts_to_one_phone(
    site_url: &str,
    sim_url: &str,
    hosts: &[String],
    logs: impl Fn() -> String,
) {
    let mut codes_on_pages = Vec::new();
    let mut refused = 0;
    for i in 0..20 {
        let lang = if i % 2 == 0 { "ko" } else { "en" };
        let t = try_push(site_url, &hosts[i % hosts.len()], &VICTIM, lang).await;
        if i < 5 {
            assert_eq!(t.page.status, 200, "push {i} went out: {}", t.page.body);
            codes_on_pages.push(code_on_page(&t.page.body));
            continue;
        }
        refused += 1;
        assert_eq!(t.page.status, 429, "start {i}: {}", t.page.body);
        let after: u64 = t.page.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=600).contains(&after), "Retry-After {after}");
        let (title, wait) = if lang == "ko" {
            (
                "이 휴대폰으로 인증 요청이 너무 많습니다",
                "분 뒤에 다시 시도할 수 있습니다",
            )
        } else {
            (
                "Too many requests to this phone",
                "You can try again in about",
            )
        };
        assert!(t.page.body.contains(title), "{lang}: {}", t.page.body);
        assert!(t.page.body.contains(wait), "{lang}: {}", t.page.body);
        assert!(t.page.body.contains("MJ-L01"));
        assert!(t.base.contains("/login/"));
    }
    assert_eq!(refused, 15);
    let pushes = sim_pushes(sim_url, VICTIM.phone);
    assert_eq!(
        pushes.len(),
        5,
        "the phone got exactly five pushes: {pushes:?}"
    );
    let mut sent: Vec<String> = pushes
        .iter()
        .map(|p| {
            let title = p["title"].as_str().unwrap();
            assert!(
                title.starts_with("구청 민원 로그인"),
                "names the site: {title}"
            );
            assert!(title.ends_with("아니면 거절"), "says to reject: {title}");
            assert!(title.chars().count() <= 40, "{title}");
            code_in_title(title)
        })
        .collect();
    sent.sort();
    codes_on_pages.sort();
    assert_eq!(
        sent, codes_on_pages,
        "each waiting page shows its push's code"
    );
    // Another person is not affected.
    let other = Citizen {
        phone: "010-7777-9999",
        ..VICTIM
    };
    let t = try_push(site_url, &hosts[0], &other, "ko").await;
    assert_eq!(t.page.status, 200, "{}", t.page.body);
    let logs = logs();
    assert!(logs.contains("MJ-L01"), "one log line per refusal: {logs}");
    // Every spelling of the person's details (not bare digit runs: a log
    // line's microseconds can hold any four digits).
    for personal in [
        "7777-1234",
        "77771234",
        "-7777",
        "7777-",
        "홍길동",
        "1990-01-31",
        "19900131",
        "900131",
        "=1990",
        "\"1990",
        "1990-",
    ] {
        assert!(
            !logs.contains(personal),
            "no `{personal}` in the logs: {}",
            logs.lines()
                .filter(|l| l.contains(personal))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// A simulator, a gateway with `limits` (the body of `[limits]`) and `extra`
/// config, and the Authlib site, for one test.
struct Sited {
    _dir: TempDir,
    _sim: Proc,
    sim_url: String,
    gw: Gateway,
    site: Site,
    /// The site's registered redirect URI.
    redirect: String,
}

fn sited(tag: &str, limits: &str, extra: &str) -> Sited {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            limits: limits.into(),
            extra: extra.into(),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
    Sited {
        _dir: dir,
        _sim: sim,
        sim_url,
        gw,
        site,
        redirect,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_to_one_phone_stop_at_five_however_many_logins_start() {
    let w = sited("limits-person", PERSON_LIMITS, "");
    let (gw, site, sim_url) = (&w.gw, &w.site, &w.sim_url);
    let logs = || gw.proc.drain().join("\n");
    twenty_starts_to_one_phone(&site.url, sim_url, std::slice::from_ref(&gw.url), logs).await;
}

async fn across_replicas(store: String) {
    let w = sited("limits-replicas", PERSON_LIMITS, &store);
    let (a, site, sim_url) = (&w.gw, &w.site, &w.sim_url);
    let (b, b_url) = start_replica(&a.config, "b");
    let logs = || {
        let mut l = a.proc.drain();
        l.extend(b.drain());
        l.join("\n")
    };
    twenty_starts_to_one_phone(&site.url, sim_url, &[a.url.clone(), b_url], logs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_redis_share_the_push_limit() {
    let redis = start_redis();
    across_replicas(format!(
        "\n[store]\nkind = \"redis\"\nurl = {{ value = \"redis://127.0.0.1:{}\" }}\n",
        redis.port
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_a_redis_cluster_share_the_push_limit() {
    let cluster = start_cluster();
    across_replicas(format!(
        "\n[store]\nkind = \"redis\"\ncluster = true\nurl = {{ value = \"redis://127.0.0.1:{}\" }}\n",
        cluster.seed
    ))
    .await;
}

fn authorize_target(redirect: &str) -> String {
    format!(
        "/authorize?client_id=town&redirect_uri={}&response_type=code&scope=openid&state=s1",
        urlencode(redirect)
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

async fn get(authority: String, target: String, extra: Vec<String>) -> wire::RawResponse {
    tokio::task::spawn_blocking(move || {
        let mut head = vec![
            format!("GET {target} HTTP/1.1"),
            format!("Host: {authority}"),
            "Accept-Language: en".to_owned(),
            "Connection: close".to_owned(),
        ];
        head.extend(extra);
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        raw_request(&authority, &head, b"")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_are_limited_per_client_behind_trusted_proxies_and_per_site() {
    let dir = TempDir::new("limits-client");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let redirect = "http://127.0.0.1:9/callback".to_owned();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            server_extra: "trusted_proxies = [\"127.0.0.1/32\"]".into(),
            limits: "starts_per_client = [\"3/1m\"]\nsubmissions_per_client = [\"1000/1m\"]\npushes_per_person = [\"1000/1m\"]\nstarts_per_site = [\"1000/1s\"]\n".into(),
            extra: "\n[sites.busy]\nname = \"바쁜 곳\"\npolicy = \"standard\"\n[sites.busy.oidc]\nclient_id = \"busy\"\nclient_secret = { value = \"busy-secret-0123456789\" }\nredirect_uris = [\"http://127.0.0.1:9/busy\"]\n[sites.busy.limits]\nstarts_per_site = [\"2/1m\"]\nstarts_per_client = [\"1000/1m\"]\n".into(),
            ..GatewayOpts::default()
        },
    );
    let authority = gw.url.trim_start_matches("http://").to_owned();
    let target = authorize_target(&redirect);
    let from = |ip: &str| vec![format!("X-Forwarded-For: {ip}")];
    // Three starts from one client, the fourth refused with a page.
    for _ in 0..3 {
        let r = get(authority.clone(), target.clone(), from("203.0.113.7")).await;
        assert_eq!(r.status, 303);
    }
    let r = get(authority.clone(), target.clone(), from("203.0.113.7")).await;
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("retry-after").is_some());
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        body.contains("Too many requests") && body.contains("MJ-L02"),
        "{body}"
    );
    // Another client behind the same proxy, and one IPv6 /64 as one client.
    let r = get(authority.clone(), target.clone(), from("203.0.113.8")).await;
    assert_eq!(r.status, 303, "another client is not affected");
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        let r = get(authority.clone(), target.clone(), from(host)).await;
        assert_eq!(r.status, 303);
    }
    let r = get(authority.clone(), target.clone(), from("2001:db8:1:2::99")).await;
    assert_eq!(r.status, 429, "the same /64 is the same client");

    // The site's own limit: the site hears `temporarily_unavailable`.
    let busy =
        authorize_target("http://127.0.0.1:9/busy").replace("client_id=town", "client_id=busy");
    for i in 0..2 {
        let r = get(
            authority.clone(),
            busy.clone(),
            from(&format!("198.51.100.{i}")),
        )
        .await;
        assert_eq!(r.status, 303);
        assert!(r.header("location").unwrap().contains("/login/"));
    }
    let r = get(authority.clone(), busy.clone(), from("198.51.100.9")).await;
    assert_eq!(r.status, 303);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("http://127.0.0.1:9/busy?")
            && loc.contains("error=temporarily_unavailable")
            && loc.contains("state=s1"),
        "{loc}"
    );
    let logs = gw.proc.drain().join("\n");
    assert!(logs.contains("MJ-L04") && logs.contains("busy"), "{logs}");
    assert!(
        !logs.contains("203.0.113.7"),
        "no client address in the log lines"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_anonymous_logins_leaves_logged_in_work_alone() {
    let w = sited(
        "limits-flood",
        SUITE_LIMITS,
        "\n[store]\nkind = \"memory\"\nmax_entries = 300\n",
    );
    let (gw, site, redirect) = (&w.gw, &w.site, w.redirect.clone());
    // A citizen logs in and is about to go back to the site with a code.
    let (mut b, base, done) = {
        let mut b = Browser::new(None);
        let (chooser, chooser_url) = b.follow(&format!("{}/login", site.url)).await;
        assert_eq!(chooser.status, 200);
        let wait_url = pick_and_submit(&mut b, &chooser_url, &HONG).await;
        let base = wait_url.trim_end_matches("/wait").to_owned();
        let done = wait_done(&mut b, &base).await;
        (b, base, done)
    };
    assert_eq!(done["state"], "completed");
    let cont = b
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(cont.status, 303);
    let back_to_site = cont.location.unwrap();
    assert!(back_to_site.contains("code="));

    // The flood: anonymous /authorize until new logins are refused.
    let authority = gw.url.trim_start_matches("http://").to_owned();
    let target = authorize_target(&redirect);
    let mut full = 0;
    for _ in 0..400 {
        let r = get(authority.clone(), target.clone(), vec![]).await;
        match r.status {
            303 => {}
            503 => full += 1,
            s => panic!("unexpected {s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert!(full > 0, "the store filled up with anonymous logins");
    let r = get(authority.clone(), target.clone(), vec![]).await;
    assert_eq!(r.status, 503);
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        body.contains("MJ-S01") && body.contains("<html"),
        "a page: {body}"
    );

    // The citizen's code is still exchanged: the site gets its tokens.
    let (page, _) = b.follow(&back_to_site).await;
    assert_eq!(
        page.status, 200,
        "token exchange after the flood: {}",
        page.body
    );
    let j = page.json();
    assert!(
        j["id_token_claims"]["sub"].as_str().is_some() || j.to_string().contains("sub"),
        "{j}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_rate_is_kept_and_the_citizen_may_pick_another() {
    let w = sited(
        "limits-provider",
        &format!("{SUITE_LIMITS}\n[limits.providers]\nkakao = [\"2/1m\"]\n"),
        "",
    );
    let (gw, site, sim_url) = (&w.gw, &w.site, &w.sim_url);
    for (i, phone) in ["010-5555-0001", "010-5555-0002", "010-5555-0003"]
        .iter()
        .enumerate()
    {
        let who = Citizen { phone, ..VICTIM };
        let t = try_push(&site.url, &gw.url, &who, "en").await;
        if i < 2 {
            assert_eq!(t.page.status, 200, "{}", t.page.body);
        } else {
            assert_eq!(t.page.status, 503, "{}", t.page.body);
            assert!(
                t.page.body.contains("The certificate provider is busy"),
                "{}",
                t.page.body
            );
            assert!(t.page.body.contains("MJ-L05"));
            // The way out: back to the chooser, for another provider.
            let base_path = &t.base[t.base.find("/login/").unwrap()..];
            assert!(
                t.page.body.contains(&format!("href=\"{base_path}\"")),
                "{}",
                t.page.body
            );
            assert!(
                sim_pushes(sim_url, phone).is_empty(),
                "nothing reached the provider"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saml_sites_limit_is_answered_to_the_sp_as_responder() {
    use munjigi_e2e::saml::{start_saml_sp, submit_auto_post, SamlSpOpts};
    let dir = TempDir::new("limits-saml");
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let port = free_port();
    let gw_url = format!("http://127.0.0.1:{port}");
    let sp = start_saml_sp(dir.path(), &gw_url, &SamlSpOpts::default());
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            port: Some(port),
            site_redirect: "http://127.0.0.1:9/cb".into(),
            extra: format!(
                "\n[sites.shop]\nname = \"민원 포털\"\npolicy = \"standard\"\n\n[sites.shop.saml]\nmetadata = \"{}\"\n\n[sites.shop.limits]\nstarts_per_site = [\"1/1m\"]\n",
                sp.metadata.display()
            ),
            ..GatewayOpts::default()
        },
    );
    let mut b = Browser::new(None);
    let start = b.get(&format!("{}/login?binding=redirect", sp.url)).await;
    let (first, _) = b.follow(start.location.as_deref().unwrap()).await;
    assert_eq!(
        first.status, 200,
        "the first login reaches the chooser: {}",
        first.body
    );
    let mut b = Browser::new(None);
    let start = b.get(&format!("{}/login?binding=redirect", sp.url)).await;
    let post_back = b.get(start.location.as_deref().unwrap()).await;
    assert_eq!(
        post_back.status, 200,
        "an answer to the SP: {}",
        post_back.body
    );
    let answer = submit_auto_post(&mut b, &post_back, &gw.url).await;
    assert_eq!(answer.status, 200, "SP ACS: {}", answer.body);
    let j = answer.json();
    assert_eq!(
        j["status"], "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "{j}"
    );
    let logs = gw.proc.drain().join("\n");
    assert!(logs.contains("MJ-L04") && logs.contains("MJ-M38"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_submissions_are_limited_per_client() {
    let w = sited(
        "limits-submissions",
        "pushes_per_person = [\"1000/1m\"]\nstarts_per_client = [\"1000/1m\"]\nsubmissions_per_client = [\"2/1m\"]\nstarts_per_site = [\"1000/1s\"]\n",
        "",
    );
    let (gw, site, sim_url) = (&w.gw, &w.site, &w.sim_url);
    for (i, phone) in ["010-6666-0001", "010-6666-0002", "010-6666-0003"]
        .iter()
        .enumerate()
    {
        let who = Citizen { phone, ..VICTIM };
        let t = try_push(&site.url, &gw.url, &who, "ko").await;
        if i < 2 {
            assert_eq!(t.page.status, 200, "{}", t.page.body);
        } else {
            assert_eq!(t.page.status, 429, "{}", t.page.body);
            assert!(
                t.page.body.contains("요청이 너무 많습니다"),
                "{}",
                t.page.body
            );
            assert!(t.page.body.contains("MJ-L03"));
            assert!(t.page.headers.get("retry-after").is_some());
            assert!(
                sim_pushes(sim_url, phone).is_empty(),
                "no push for a refused submission"
            );
        }
    }
}

//! Provider health with fallback, through the real binary and the simulator's
//! provider-wide outage mode: a provider that goes down is greyed out on the
//! chooser with a reason (and refused if asked for anyway, without a push),
//! a login already waiting on it is offered another provider and completes
//! with that one, the provider comes back after its probe, slow answers
//! count as failures while a one-off retryable error does not, and an
//! operator forces providers off and on by a reload. Every state is checked
//! where the operator sees it too: `/admin/providers` and `/metrics`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;
use std::time::{Duration, Instant};

struct Setup {
    _dir: TempDir,
    _sim: Proc,
    sim_url: String,
    gw: Gateway,
    site: Site,
    admin: String,
}

fn setup(tag: &str, health: &str) -> Setup {
    let dir = TempDir::new(tag);
    let (sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let (site_port, redirect) = site_port_and_redirect();
    let admin_port = free_port();
    let gw = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect,
            extra: format!("\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\n{health}"),
            ..GatewayOpts::default()
        },
    );
    let site = start_site(site_port, &gw.url, "client_secret_basic", None);
    Setup {
        _dir: dir,
        _sim: sim,
        sim_url,
        gw,
        site,
        admin: format!("http://127.0.0.1:{admin_port}"),
    }
}

fn outage(sim_url: &str, provider: &str, mode: &str) {
    let status = sim_control(
        sim_url,
        "outage",
        &format!(r#"{{"provider":"{provider}","mode":"{mode}"}}"#),
    );
    assert_eq!(status, 200, "outage {provider} {mode}");
}

/// `provider`'s entry in `GET /admin/providers`.
async fn admin_provider(s: &Setup, provider: &str) -> serde_json::Value {
    let page = Browser::new(None)
        .get(&format!("{}/admin/providers", s.admin))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.headers["content-type"], "application/json");
    page.json()["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == provider)
        .cloned()
        .unwrap_or_else(|| panic!("{provider} in {}", page.body))
}

async fn circuit_gauge(s: &Setup, provider: &str) -> String {
    let page = Browser::new(None)
        .get(&format!("{}/metrics", s.admin))
        .await;
    let series = format!("munjigi_provider_circuit_state{{provider=\"{provider}\"}} ");
    page.body
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("{series} in:\n{}", page.body))
        .to_owned()
}

/// A fresh login's chooser: (page, its URL).
async fn chooser(b: &mut Browser, site: &Site, lang: &str) -> (Page, String) {
    b.forget_cookies();
    let (p, url) = b.follow(&format!("{}/login", site.url)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    if lang == "ko" {
        return (p, url);
    }
    let base = url.split('?').next().unwrap().to_owned();
    let p = b.get(&format!("{base}?lang={lang}")).await;
    (p, base)
}

/// The chooser's two lists: offered (links) and greyed out (after the heading).
fn lists(chooser: &str) -> (&str, &str) {
    chooser
        .split_once("id=\"mj-off-heading\"")
        .unwrap_or((chooser, ""))
}

fn offered(chooser: &str, provider: &str) -> bool {
    lists(chooser)
        .0
        .contains(&format!("identify?provider={provider}\""))
}

fn greyed(chooser: &str, provider: &str) -> bool {
    lists(chooser).1.contains(&format!(
        "data-provider=\"{provider}\" aria-disabled=\"true\""
    ))
}

/// Waits (up to 20 s) until `check` holds for a fresh chooser.
async fn until_chooser(site: &Site, what: &str, check: impl Fn(&str) -> bool) -> Page {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (p, _) = chooser(&mut Browser::new(None), site, "ko").await;
        if check(&p.body) {
            return p;
        }
        assert!(Instant::now() < deadline, "never {what}:\n{}", p.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The chooser's login base (`…/login/{txn}`).
fn base_of(chooser_url: &str) -> String {
    chooser_url.split('?').next().unwrap().to_owned()
}

const NOBODY_ANSWERS: Citizen<'static> = Citizen {
    name: "홍길동",
    birthdate: "1990-01-31",
    phone: "010-0000-0002",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_greys_the_provider_out_offers_the_others_and_it_comes_back() {
    // open_secs leaves the steps below, a whole login on another provider
    // among them, time to see the circuit open on a loaded machine.
    let s = setup(
        "health-outage",
        "[health]\nwindow_secs = 30\nmin_calls = 3\nfailure_ratio = 0.5\nopen_secs = 10\nprobes = 1\n",
    );
    // A login waiting on Naver (nobody answers in the app).
    let mut b = Browser::new(None);
    let (_, chooser_url) = chooser(&mut b, &s.site, "ko").await;
    let wait_url = pick_provider_and_submit(&mut b, &chooser_url, "naver", &NOBODY_ANSWERS).await;
    let base = absolute(&chooser_url, wait_url.trim_end_matches("/wait"));
    let calm = b.get(&absolute(&base, &wait_url)).await;
    assert_eq!(calm.status, 200);
    assert!(
        calm.body.contains("role=\"alert\" id=\"mj-down\" hidden>"),
        "the notice waits hidden: {}",
        calm.body
    );
    assert_eq!(admin_provider(&s, "naver").await["circuit"], "closed");

    // Naver goes down for everyone: the waiting login's own status polls
    // fail, the circuit opens, and the status answer says so at once.
    outage(&s.sim_url, "naver", "down");
    let deadline = Instant::now() + Duration::from_secs(30);
    let next = loop {
        let st = b.get(&format!("{base}/status?wait=5")).await.json();
        if st["state"] == "provider_down" {
            break st["next"].as_str().unwrap().to_owned();
        }
        assert_eq!(st["state"], "pending", "{st}");
        assert!(Instant::now() < deadline, "the circuit never opened");
    };
    // The page that says so, with the way to another provider; a poll that
    // says the page shows it is held as usual (nothing changed).
    let page = b.get(&absolute(&base, &next)).await;
    assert_eq!(page.status, 200);
    let notice = page
        .body
        .split("role=\"alert\" id=\"mj-down\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no notice:\n{}", page.body));
    assert!(
        notice.contains("네이버 인증서 서비스가 지금 응답하지 않습니다"),
        "{notice}"
    );
    let other = format!(
        "href=\"{}\">다른 인증서로 로그인",
        base.trim_start_matches(&s.gw.url)
    );
    assert!(notice.contains(&other), "{notice}");
    assert!(page.body.contains("data-provider-down=\"1\""));
    let held = Instant::now();
    let st = b.get(&format!("{base}/status?wait=2&down=1")).await.json();
    assert_eq!(st["state"], "pending", "{st}");
    assert!(
        held.elapsed() >= Duration::from_millis(900),
        "held like any poll"
    );

    // The operator sees it.
    let naver = admin_provider(&s, "naver").await;
    assert_eq!(naver["circuit"], "open", "{naver}");
    assert_eq!(naver["offered"], "failing", "{naver}");
    assert!(naver["times_opened"].as_u64() >= Some(1), "{naver}");
    assert!(
        ["unavailable", "protocol", "transport"]
            .contains(&naver["last_failure"].as_str().unwrap_or("-")),
        "{naver}"
    );
    assert_eq!(admin_provider(&s, "kakao").await["circuit"], "closed");
    assert_eq!(circuit_gauge(&s, "naver").await, "2");
    assert_eq!(circuit_gauge(&s, "kakao").await, "0");
    let logged = s.gw.proc.drain().join("\n");
    assert!(
        logged.contains("provider circuit opened") && logged.contains("provider=naver"),
        "{logged}"
    );

    // The way out: the chooser of the same login greys Naver out, with the
    // reason, after the others, and Kakao finishes the login.
    let (ch, _) = b.follow(&base).await;
    assert!(greyed(&ch.body, "naver"), "{}", ch.body);
    assert!(
        !offered(&ch.body, "naver") && offered(&ch.body, "kakao"),
        "{}",
        ch.body
    );
    assert!(
        lists(&ch.body).1.contains("일시적으로 응답하지 않습니다"),
        "{}",
        ch.body
    );
    let wait_url = pick_provider_and_submit(&mut b, &base, "kakao", &HONG).await;
    assert!(
        base.ends_with(wait_url.trim_end_matches("/wait")),
        "the same login"
    );
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (back, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 200, "site callback: {}", back.body);

    // Asked for anyway (a stale page, a hand-made request): refused with its
    // own code and the other providers, and nothing is pushed.
    let mut c = Browser::new(None);
    let (ch, url) = chooser(&mut c, &s.site, "en").await;
    assert!(greyed(&ch.body, "naver"), "{}", ch.body);
    assert!(
        lists(&ch.body).1.contains("Not answering at the moment"),
        "{}",
        ch.body
    );
    let cbase = base_of(&url);
    let refused = c.get(&format!("{cbase}/identify?provider=naver")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("MJ-P13"), "{}", refused.body);
    let path = cbase.trim_start_matches(&s.gw.url);
    assert!(
        refused.body.contains(&format!("href=\"{path}\"")),
        "{}",
        refused.body
    );
    let form = c.get(&format!("{cbase}/identify?provider=kakao")).await;
    let csrf = form.input_value("csrf").unwrap();
    let phone = "010-7777-1313";
    let started = c
        .post(
            &format!("{cbase}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "naver"),
                ("name", "홍길동"),
                ("birthdate", "1990-01-31"),
                ("phone", phone),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(started.status, 503, "{}", started.body);
    assert!(started.body.contains("MJ-P13"), "{}", started.body);
    assert!(sim_pushes(&s.sim_url, phone).is_empty(), "nothing pushed");

    // Naver comes back: after open_secs it is offered again (its probe),
    // a login on it succeeds, and the circuit closes.
    outage(&s.sim_url, "naver", "none");
    until_chooser(&s.site, "Naver offered again", |c| offered(c, "naver")).await;
    let mut d = Browser::new(None);
    let (_, url) = chooser(&mut d, &s.site, "ko").await;
    let wait_url = pick_provider_and_submit(&mut d, &url, "naver", &HONG).await;
    let dbase = absolute(&url, wait_url.trim_end_matches("/wait"));
    let done = wait_done(&mut d, &dbase).await;
    assert_eq!(done["state"], "completed", "{done}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while admin_provider(&s, "naver").await["circuit"] != "closed" {
        assert!(
            Instant::now() < deadline,
            "{}",
            admin_provider(&s, "naver").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(circuit_gauge(&s, "naver").await, "0");

    // A page that shows the notice (drawn by a replica that saw Naver down)
    // is never told the opposite by one that sees it well: its polls are
    // held as usual, so a page cannot flip between replicas that disagree.
    let mut e = Browser::new(None);
    let (_, url) = chooser(&mut e, &s.site, "ko").await;
    let wait_url = pick_provider_and_submit(&mut e, &url, "naver", &NOBODY_ANSWERS).await;
    let ebase = absolute(&url, wait_url.trim_end_matches("/wait"));
    let held = Instant::now();
    let st = e.get(&format!("{ebase}/status?wait=2&down=1")).await.json();
    assert_eq!(st["state"], "pending", "{st}");
    assert!(
        held.elapsed() >= Duration::from_millis(900),
        "held like any poll"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_open_the_circuit_and_a_one_off_retryable_error_does_not() {
    let s = setup(
        "health-slow",
        "[health]\nwindow_secs = 60\nmin_calls = 10\nfailure_ratio = 0.5\nopen_secs = 600\nslow_call_ms = 1000\n\n\
         [health.providers.toss]\nmin_calls = 3\n",
    );
    // A flaky person on Toss direct: one retryable failure on the first
    // status and the first result call (two of its four calls), and the
    // login still completes: below min_calls, one login's hiccup does not
    // take a provider off the chooser.
    let flaky = Citizen {
        name: "이영희",
        birthdate: "1992-02-02",
        phone: "010-4444-0101",
    };
    sim_set_scenario(&s.sim_url, flaky.phone, "flaky");
    let mut b = Browser::new(None);
    let (_, url) = chooser(&mut b, &s.site, "ko").await;
    let wait_url = pick_provider_and_submit(&mut b, &url, "toss-direct", &flaky).await;
    let base = absolute(&url, wait_url.trim_end_matches("/wait"));
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (back, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    let td = admin_provider(&s, "toss-direct").await;
    assert_eq!(td["circuit"], "closed", "{td}");
    assert!(
        td["failures_total"].as_u64() >= Some(1),
        "the flaky error was seen: {td}"
    );

    // Toss (through the broker) answers every call after 3 s: the starts
    // succeed, slowly, and count as failures; the third opens the circuit.
    outage(&s.sim_url, "toss", "slow");
    for i in 0..3 {
        let who = Citizen {
            name: "박민수",
            birthdate: "1988-08-08",
            phone: ["010-4444-0201", "010-4444-0202", "010-4444-0203"][i],
        };
        let mut b = Browser::new(None);
        let (_, url) = chooser(&mut b, &s.site, "ko").await;
        pick_provider_and_submit(&mut b, &url, "toss", &who).await;
    }
    let toss = admin_provider(&s, "toss").await;
    assert_eq!(toss["circuit"], "open", "{toss}");
    assert_eq!(toss["last_failure"], "slow", "{toss}");
    let (ch, _) = chooser(&mut Browser::new(None), &s.site, "ko").await;
    assert!(
        greyed(&ch.body, "toss") && !offered(&ch.body, "toss"),
        "{}",
        ch.body
    );
    assert!(offered(&ch.body, "kakao") && offered(&ch.body, "toss-direct"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_forces_providers_off_and_on_by_a_reload() {
    let s = setup(
        "health-force",
        "[health]\nmin_calls = 3\nwindow_secs = 30\nopen_secs = 600\n\n\
         [health.providers.pass]\nforce = \"off\"\nreason_ko = \"PASS 점검 중 (21시까지)\"\nreason_en = \"PASS maintenance until 21:00\"\n",
    );
    let (ko, url) = chooser(&mut Browser::new(None), &s.site, "ko").await;
    assert!(
        greyed(&ko.body, "pass") && !offered(&ko.body, "pass"),
        "{}",
        ko.body
    );
    assert!(
        lists(&ko.body).1.contains("PASS 점검 중 (21시까지)"),
        "{}",
        ko.body
    );
    let mut b = Browser::new(None);
    let (en, url_en) = chooser(&mut b, &s.site, "en").await;
    assert!(
        lists(&en.body).1.contains("PASS maintenance until 21:00"),
        "{}",
        en.body
    );
    let refused = b.get(&format!("{url_en}/identify?provider=pass")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("MJ-P14"), "{}", refused.body);
    drop(url);
    let pass = admin_provider(&s, "pass").await;
    assert_eq!(pass["forced"], "off", "{pass}");
    assert_eq!(pass["offered"], "disabled", "{pass}");
    assert_eq!(pass["reason_en"], "PASS maintenance until 21:00", "{pass}");
    assert_eq!(circuit_gauge(&s, "pass").await, "3");

    // The reload: PASS back on its circuit; Kakao forced on, so an outage
    // that fails every start does not take it off the chooser.
    let text = std::fs::read_to_string(&s.gw.config).unwrap();
    let (head, _) = text.split_once("[health.providers.pass]").unwrap();
    std::fs::write(
        &s.gw.config,
        format!("{head}[health.providers.kakao]\nforce = \"on\"\n"),
    )
    .unwrap();
    assert!(std::process::Command::new("kill")
        .arg("-HUP")
        .arg(s.gw.proc.pid().to_string())
        .status()
        .unwrap()
        .success());
    until_chooser(&s.site, "PASS offered after the reload", |c| {
        offered(c, "pass")
    })
    .await;
    assert_eq!(
        admin_provider(&s, "pass").await["forced"],
        serde_json::Value::Null
    );

    outage(&s.sim_url, "kakao", "down");
    for phone in [
        "010-4444-0301",
        "010-4444-0302",
        "010-4444-0303",
        "010-4444-0304",
    ] {
        let mut b = Browser::new(None);
        let (_, url) = chooser(&mut b, &s.site, "ko").await;
        let base = base_of(&url);
        let form = b.get(&format!("{base}/identify?provider=kakao")).await;
        assert_eq!(form.status, 200, "forced on: still offered: {}", form.body);
        let csrf = form.input_value("csrf").unwrap();
        let r = b
            .post(
                &format!("{base}/start"),
                &[
                    ("csrf", &csrf),
                    ("provider", "kakao"),
                    ("name", "홍길동"),
                    ("birthdate", "1990-01-31"),
                    ("phone", phone),
                    ("consent", "yes"),
                ],
            )
            .await;
        // The provider's own failure, not the circuit's refusal.
        assert!(r.status >= 500 && !r.body.contains("MJ-P13"), "{}", r.body);
    }
    let kakao = admin_provider(&s, "kakao").await;
    assert_eq!(kakao["circuit"], "open", "the circuit saw it: {kakao}");
    assert_eq!(kakao["offered"], "available", "forced on: {kakao}");
    let (ch, _) = chooser(&mut Browser::new(None), &s.site, "ko").await;
    assert!(offered(&ch.body, "kakao"), "{}", ch.body);
}

//! Nothing personal leaves the gateway in what an operator collects: after
//! logins through every provider family (approved, rejected in the app, a
//! result naming someone else, details the provider does not know) and a
//! document signing, by known test people, neither their name, phone (in
//! any spelling), birth date (in any spelling) nor CI, nor any configured
//! secret, appears in any log line of the gateway, in `/metrics`, in
//! `/admin/providers`, or in the audit log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

/// Every spelling of a person's details an operator's tool could show.
fn needles(who: &Citizen<'_>) -> Vec<String> {
    let digits: String = who.phone.chars().filter(char::is_ascii_digit).collect();
    let birth: String = who.birthdate.chars().filter(char::is_ascii_digit).collect();
    let mut n = vec![
        who.name.to_owned(),
        who.phone.to_owned(),
        digits.clone(),
        format!("+82{}", &digits[1..]),
        format!("82{}", &digits[1..]),
        format!("{}-{}-{}", &digits[..3], &digits[3..7], &digits[7..]),
        who.birthdate.to_owned(),
        birth.clone(),
        birth[2..].to_owned(),
        // Name without spaces, and its surname-less given name when long enough.
        who.name.replace(' ', ""),
    ];
    if let Some(ci) = munjigi_sim::simulator::ci_of(who.name, who.birthdate, who.phone) {
        // The CI, and its URL-safe and unpadded forms.
        n.push(ci.trim_end_matches('=').to_owned());
        n.push(
            ci.replace('+', "-")
                .replace('/', "_")
                .trim_end_matches('=')
                .to_owned(),
        );
        n.push(ci);
    } else {
        panic!("no CI for {}", who.phone);
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_name_phone_birth_date_ci_or_secret_in_logs_metrics_or_audit() {
    let admin_port = free_port();
    let w = world_with(
        "no-personal-data",
        &format!(
            "\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\n[signing]\naudit_log = \"audit.log\"\n"
        ),
    );
    let sim_url = w.sim_url.clone();

    let people = [
        Citizen {
            name: "민지원",
            birthdate: "1979-11-23",
            phone: "010-5318-2764",
        },
        Citizen {
            name: "황보 수연",
            birthdate: "2001-03-09",
            phone: "010-7402-9931",
        },
    ];
    // Approved through every family.
    for provider in [
        "kakao",
        "naver",
        "kakao-direct",
        "toss-direct",
        "kb",
        "shinhan",
    ] {
        login_via(&w, provider, &[], &people[0]).await;
    }
    // Declined in the app, a result naming someone else, unknown details.
    sim_set_scenario(&sim_url, people[1].phone, "reject");
    let (_, _, done) = until_outcome_via(&w, "kakao", &[], &people[1]).await;
    assert_eq!(done["state"], "rejected", "{done}");
    sim_set_scenario(&sim_url, people[1].phone, "wrong_person");
    let (_, _, done) = until_outcome_via(&w, "toss", &[], &people[1]).await;
    assert_eq!(done["state"], "completed", "approved in the app: {done}");
    sim_set_scenario(&sim_url, people[1].phone, "unknown");
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(&format!("{}/login", w.site.url)).await;
    let base = chooser_url.split('?').next().unwrap().to_owned();
    let form = b.get(&format!("{base}/identify?provider=kakao")).await;
    let csrf = form.input_value("csrf").unwrap();
    let r = b
        .post(
            &format!("{base}/start"),
            &[
                ("csrf", &csrf),
                ("provider", "kakao"),
                ("name", people[1].name),
                ("birthdate", people[1].birthdate),
                ("phone", people[1].phone),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "the form again: {}", r.body);

    // A document signed by the first person.
    let (status, asked) = site_api(
        "POST",
        &format!("{}/api/v1/signatures", w.gw.url),
        &basic_auth("town", CLIENT_SECRET),
        Some(&serde_json::json!({
            "title": "전입 신고",
            "documents": [{"title": "전입신고서", "content": "7KCE7J6F", "media_type": "text/plain"}],
            "redirect_uri": w.redirect,
            "state": "s",
        })),
    )
    .await;
    assert_eq!(status, 201, "{asked}");
    let mut b = Browser::new(None);
    let (_, chooser_url) = b.follow(asked["url"].as_str().unwrap()).await;
    let wait = pick_provider_and_submit(&mut b, &chooser_url, "kakao", &people[0]).await;
    let base = absolute(&chooser_url, wait.trim_end_matches("/wait"));
    let done = wait_done(&mut b, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let back = b
        .get(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert_eq!(back.status, 303, "{}", back.body);

    // What an operator collects.
    let mut collected = Vec::new();
    let mut admin = Browser::new(None);
    for path in ["/metrics", "/admin/providers"] {
        let page = admin
            .get(&format!("http://127.0.0.1:{admin_port}{path}"))
            .await;
        assert_eq!(page.status, 200, "{path}");
        collected.push((path.to_owned(), page.body));
    }
    let audit = std::fs::read_to_string(w.dir.path().join("audit.log")).unwrap();
    assert!(
        audit.contains("\"town\"") && audit.contains("kakao"),
        "the audit log has the signing: {audit}"
    );
    collected.push(("audit.log".to_owned(), audit));
    let logs = w.gw.proc.drain().join("\n");
    assert!(
        logs.contains("login verified"),
        "the log is the gateway's: {logs}"
    );
    collected.push(("gateway log".to_owned(), logs));

    let mut secrets: Vec<String> = [
        CLIENT_SECRET,
        SIM_SECRET,
        KAKAO_DIRECT_KEY,
        TOSS_DIRECT_SECRET,
        KB_HMAC_KEY,
        KB_FIELD_KEY,
        SHINHAN_SECRET,
        "e2e-pairwise-key-0123456789abcdef0123",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // A base64 secret also in its decoded-then-hex or URL-safe forms is out
    // of reach of a log line; its text form is what could leak.
    secrets.push(SIM_SECRET.trim_end_matches('=').to_owned());
    for who in &people {
        for needle in needles(who).iter().chain(secrets.iter()) {
            for (place, text) in &collected {
                assert!(
                    !leaks(text, needle),
                    "{needle:?} in the {place}:\n{}",
                    text.lines()
                        .filter(|l| leaks(l, needle))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }
}

/// Whether `needle` appears in `text`. A needle of digits only (a birth date
/// or phone spelling) counts only standing alone, not inside a longer run of
/// letters and digits: a SHA-256 in hex or a random id holds any six digits
/// now and then (a CI run found `010309` inside an audit record's hash).
fn leaks(text: &str, needle: &str) -> bool {
    if !needle.bytes().all(|b| b.is_ascii_digit()) {
        return text.contains(needle);
    }
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

//! A signing request ends once, however many requests race to end it: two
//! `/continue` of one verified signing transaction on two replicas sharing a
//! real Redis, held at the same point by pausing Redis's writes, give one
//! audit event, one completion and one receipt; the twin that lost goes back
//! to the site like the winner (not a 500).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use munjigi_e2e::*;

const TOWN: (&str, &str) = ("town", CLIENT_SECRET);

async fn api(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    site_api(method, url, &basic_auth(TOWN.0, TOWN.1), body.as_ref()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_continues_on_two_replicas_complete_a_signature_once() {
    let dir = TempDir::new("sign-race");
    let redis = start_redis();
    let port = redis.port;
    let (_sim, sim_url) = start_simulator(dir.path(), &SimOpts::default());
    let redirect = "http://127.0.0.1:9/signed".to_owned();
    let a = start_gateway(
        dir.path(),
        &sim_url,
        &GatewayOpts {
            site_redirect: redirect.clone(),
            // Long enough a store timeout to sit out the pause below.
            extra: format!(
                "\n[store]\nkind = \"redis\"\nurl = {{ value = \"redis://127.0.0.1:{port}\" }}\n\
                 timeout_ms = 10000\n\n[signing]\naudit_log = \"audit.log\"\n"
            ),
            ..GatewayOpts::default()
        },
    );
    let (b_proc, b_url) = start_replica(&a.config, "b");
    let (c_proc, c_url) = start_replica(&a.config, "c");

    // The site asks; the citizen approves; the provider reports signed.
    let doc = b"race document";
    let (status, j) = api(
        "POST",
        &format!("{}/api/v1/signatures", a.url),
        Some(serde_json::json!({
            "title": "전입 신고",
            "documents": [{"title": "a", "media_type": "text/plain",
                           "content": base64::engine::general_purpose::STANDARD.encode(doc)}],
            "redirect_uri": redirect, "state": "st-1",
        })),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    let id = j["id"].as_str().unwrap().to_owned();
    let url = j["url"].as_str().unwrap().to_owned();
    let mut br = Browser::new(None);
    let (chooser, chooser_url) = br.follow(&url).await;
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let wait = pick_provider_and_submit(&mut br, &chooser_url, "kakao", &HONG).await;
    let base = wait.trim_end_matches("/wait").to_owned();
    let done = wait_done(&mut br, &base).await;
    assert_eq!(done["state"], "completed", "{done}");
    let path = &base[base.find("/login/").unwrap()..];

    // A first /continue verifies the result and then finds the signature
    // request gone for a moment (moved aside): the transaction stays
    // verified, with nobody finishing it.
    let record = format!("sig:{id}");
    let aside = format!("sig:{id}:aside");
    assert_eq!(redis_cli(port, &["RENAME", &record, &aside]), "OK");
    let first = br.get(&format!("{base}/continue")).await;
    assert!(first.status >= 400, "{}: {}", first.status, first.body);
    assert_eq!(redis_cli(port, &["RENAME", &aside, &record]), "OK");

    // Writes pause, reads go on: both twins read the verified transaction and
    // the pending request, and wait at their first write (the claim now, the
    // record's compare-and-swap before). The pause ends when Redis shows both
    // waiting, not after a fixed time: on a loaded machine a twin may take
    // longer than any fixed pause to get there.
    assert_eq!(redis_cli(port, &["CLIENT", "PAUSE", "9000", "WRITE"]), "OK");
    let mut b2 = Browser::new(None);
    let mut b3 = Browser::new(None);
    let mj_b = br.cookie("mj_b").unwrap().clone();
    b2.set_cookie("mj_b", &mj_b);
    b3.set_cookie("mj_b", &mj_b);
    let on_b = format!("{b_url}{path}/continue");
    let on_c = format!("{c_url}{path}/continue");
    let release = async {
        let waiting = || {
            redis_cli(port, &["CLIENT", "LIST"])
                .lines()
                .filter(|l| l.split(' ').any(|f| f == "flags=b"))
                .count()
        };
        let mut seen = 0;
        for _ in 0..160 {
            seen = waiting();
            if seen >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(redis_cli(port, &["CLIENT", "UNPAUSE"]), "OK");
        seen
    };
    let (rb, rc, waiting) = tokio::join!(b2.get(&on_b), b3.get(&on_c), release);
    assert_eq!(waiting, 2, "both twins waited at a write");

    // One audit event; both twins back at the site; one completed request
    // with the receipt the event pins.
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap_or_default();
    let events: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| {
            e["request"] == id.as_str() && e["event"] == "signature.completed"
        })
        .collect();
    assert_eq!(events.len(), 1, "one audit event: {audit}");
    let back = format!("{redirect}?id={id}&state=st-1");
    for (who, r) in [("B", &rb), ("C", &rc)] {
        assert_eq!(r.status, 303, "{who}: {} {}", r.status, r.body);
        assert_eq!(r.location.as_deref(), Some(back.as_str()), "{who}");
    }
    assert_eq!(events[0]["event"], "signature.completed");
    let (status, j) = api("GET", &format!("{}/api/v1/signatures/{id}", a.url), None).await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["status"], "completed", "{j}");
    let receipt = j["receipt"].as_str().unwrap();
    assert_eq!(
        events[0]["receipt_sha256"],
        sha256_hex(receipt.as_bytes()).as_str(),
        "the audited receipt is the released one"
    );
    // The loser said why it only sent the citizen back.
    let logs = [b_proc.drain(), c_proc.drain()].concat().join("\n");
    assert!(
        logs.contains("signature request ended by a twin request"),
        "{logs}"
    );
}

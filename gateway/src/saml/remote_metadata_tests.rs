use super::*;
use crate::clock::ManualClock;
use crate::saml::aggregate::tests::{entity, federation, Federation, MD};

#[test]
fn refreshes_follow_cache_duration_within_bounds_and_before_valid_until() {
    let h = |n: u64| Duration::from_secs(n * 3600);
    assert_eq!(next_refresh(None, None, 0), DEFAULT_REFRESH);
    assert_eq!(next_refresh(Some(h(2)), None, 0), h(2));
    assert_eq!(
        next_refresh(Some(Duration::from_secs(1)), None, 0),
        MIN_REFRESH
    );
    assert_eq!(next_refresh(Some(h(48)), None, 0), MAX_REFRESH);
    // Four hours left: refreshed after three, whatever cacheDuration says.
    assert_eq!(next_refresh(Some(h(6)), Some(4 * 3600), 0), h(3));
    // Almost expired: as soon as allowed, not in a loop.
    assert_eq!(next_refresh(Some(h(6)), Some(10), 0), MIN_REFRESH);
    assert_eq!(
        (
            retry_after(1),
            retry_after(2),
            retry_after(3),
            retry_after(40)
        ),
        (RETRY_FIRST, RETRY_FIRST * 2, RETRY_FIRST * 4, RETRY_MAX)
    );
}

/// What the test server answers: a status and a body, with an ETag when
/// set (and then `304` to a request that names it).
#[derive(Default)]
struct Served {
    status: u16,
    body: Vec<u8>,
    etag: Option<&'static str>,
    not_modified: usize,
}

fn answer(status: u16, body: Vec<u8>) -> Served {
    Served {
        status,
        body,
        ..Served::default()
    }
}

/// A loopback server answering every request with what `served` holds.
async fn serve(served: Arc<Mutex<Served>>) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/md.xml", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut seen = Vec::new();
            let mut buf = [0u8; 2048];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&seen).to_ascii_lowercase();
            let (status, body, etag) = {
                let mut s = served.lock().unwrap();
                match s.etag {
                    Some(e) if request.contains(&format!("if-none-match: {e}")) => {
                        s.not_modified += 1;
                        (304, Vec::new(), s.etag)
                    }
                    _ => (s.status, s.body.clone(), s.etag),
                }
            };
            let etag = etag.map(|e| format!("ETag: {e}\r\n")).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status} X\r\n{etag}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(&body).await;
        }
    });
    url
}

fn settings(
    url: &str,
    cert: &samael::crypto::CertificateDer,
    entity_id: &str,
    signed: bool,
) -> SamlSite {
    SamlSite {
        metadata: SpMetadata::Url(MetadataUrl {
            url: url.to_owned(),
            signer: cert.clone(),
            entity_id: entity_id.to_owned(),
        }),
        sign_response: false,
        require_signed_requests: signed,
        idp_initiated: false,
        scope: "openid profile".into(),
        encrypt_assertions: None,
        allow_sha1_digest: false,
        attribute_profile: Default::default(),
        signature_algorithm: Default::default(),
    }
}

fn aggregate(f: &Federation, entities: &str, valid_until: &str) -> Vec<u8> {
    f.sign(
        &format!(
            r#"<md:EntitiesDescriptor {MD} ID="_a" validUntil="{valid_until}" cacheDuration="PT2H"><md:EntitiesDescriptor cacheDuration="PT1H">{entities}</md:EntitiesDescriptor></md:EntitiesDescriptor>"#
        ),
        "_a",
        "<md:EntitiesDescriptor cacheDuration",
    )
    .into_bytes()
}

const A: &str = "https://a.example/sp";
const B: &str = "https://b.example/sp";
const C: &str = "https://c.example/sp";

#[tokio::test]
async fn one_fetch_serves_every_site_and_the_last_good_copy_is_kept() {
    let f = federation();
    let served = Arc::new(Mutex::new(answer(200, Vec::new())));
    let url = serve(served.clone()).await;
    let clock = Arc::new(ManualClock::at(1_800_000_000));
    let metrics = crate::metrics::Metrics::new();
    let feed = test_feed(&url, &f, clock.clone(), &metrics);
    let want = |site: &str, id: &str, signed: bool| Want {
        site: site.to_owned(),
        entity_id: id.to_owned(),
        saml: settings(&url, &f.cert, id, signed),
    };
    // c requires signed requests; its metadata has no signing certificate.
    *lock(&feed.wants) = vec![want("a", A, false), want("b", B, false), want("c", C, true)];
    let until = "2027-12-31T00:00:00Z";
    let first = format!(
        "{}{}{}",
        entity(A, "https://a.example/acs", ""),
        entity(B, "https://b.example/acs", ""),
        entity(C, "https://c.example/acs", "")
    );
    *lock(&served) = answer(200, aggregate(&f, &first, until));
    assert_eq!(
        feed.refresh().await,
        Ok(Duration::from_secs(3600)),
        "the inner cacheDuration"
    );
    let now = clock.now();
    assert_eq!(
        feed.current(A, now).unwrap().sp.acs[0].url,
        "https://a.example/acs"
    );
    assert_eq!(
        feed.current(B, now).unwrap().sp.acs[0].url,
        "https://b.example/acs"
    );
    assert_eq!(
        feed.current(C, now).unwrap_err(),
        Unavailable::NotYet,
        "unfit: never taken"
    );

    // A changes, B is gone from the signed document (deregistered): A's new
    // copy, and B's old one is not kept.
    *lock(&served) = answer(
        200,
        aggregate(&f, &entity(A, "https://a.example/acs-new", ""), until),
    );
    assert!(feed.refresh().await.is_ok());
    assert_eq!(
        feed.current(A, now).unwrap().sp.acs[0].url,
        "https://a.example/acs-new"
    );
    assert_eq!(
        feed.current(B, now).unwrap_err(),
        Unavailable::NotYet,
        "a deregistration takes effect"
    );

    // Tampered, then down: every site keeps its copy.
    let tampered = String::from_utf8(aggregate(&f, &first, until))
        .unwrap()
        .replace("https://a.example/acs", "https://evil.example/acs");
    *lock(&served) = answer(200, tampered.into_bytes());
    assert_eq!(feed.refresh().await, Err(()));
    *lock(&served) = answer(503, Vec::new());
    assert_eq!(feed.refresh().await, Err(()));
    assert_eq!(
        feed.current(A, now).unwrap().sp.acs[0].url,
        "https://a.example/acs-new"
    );

    // A copy is used until its validUntil, not after.
    clock.advance(400 * 86_400);
    assert_eq!(
        feed.current(A, clock.now()).unwrap_err(),
        Unavailable::Expired
    );

    let text = metrics.render().unwrap();
    for line in [
        r#"munjigi_saml_metadata_refreshes_total{site="a",result="updated"} 2"#,
        r#"munjigi_saml_metadata_refreshes_total{site="b",result="entity_refused"} 1"#,
        r#"munjigi_saml_metadata_refreshes_total{site="c",result="entity_refused"} 2"#,
        r#"munjigi_saml_metadata_refreshes_total{site="a",result="document_refused"} 1"#,
        r#"munjigi_saml_metadata_refreshes_total{site="b",result="fetch_failed"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
}

fn test_feed(
    url: &str,
    f: &Federation,
    clock: Arc<ManualClock>,
    metrics: &crate::metrics::Metrics,
) -> Feed {
    Feed {
        url: url.to_owned(),
        signer: f.cert.clone(),
        wants: Mutex::new(Vec::new()),
        held: Mutex::new(HashMap::new()),
        wake: Arc::new(Notify::new()),
        clock,
        metrics: metrics.saml_metadata(),
        http: Some(
            HttpClient::new(None, Duration::from_secs(5))
                .unwrap()
                .allow_plain_http(true),
        ),
        last: Mutex::new(None),
        newest_until: Mutex::new(None),
    }
}

/// With an ETag, a refresh asks conditionally once every site holds a copy
/// from that document; `304` is the same document, counted `unchanged`.
#[tokio::test]
async fn an_unchanged_document_is_not_downloaded_again() {
    let f = federation();
    let until = "2027-12-31T00:00:00Z";
    let served = Arc::new(Mutex::new(Served {
        etag: Some("\"v1\""),
        ..answer(
            200,
            aggregate(&f, &entity(A, "https://a.example/acs", ""), until),
        )
    }));
    let url = serve(served.clone()).await;
    let clock = Arc::new(ManualClock::at(1_800_000_000));
    let metrics = crate::metrics::Metrics::new();
    let feed = test_feed(&url, &f, clock.clone(), &metrics);
    let want = |site: &str, id: &str| Want {
        site: site.to_owned(),
        entity_id: id.to_owned(),
        saml: settings(&url, &f.cert, id, false),
    };
    *lock(&feed.wants) = vec![want("a", A)];
    assert!(feed.refresh().await.is_ok());
    assert_eq!(lock(&served).not_modified, 0, "the first GET is plain");
    clock.advance(600);
    assert_eq!(feed.refresh().await, Ok(Duration::from_secs(3600)));
    assert_eq!(lock(&served).not_modified, 1);
    let held = feed.current(A, clock.now()).unwrap();
    assert_eq!(held.fetched_at, clock.now(), "a 304 confirms the copy");
    // A site added whose entity is not held yet: the document itself.
    *lock(&feed.wants) = vec![want("a", A), want("b", B)];
    assert!(feed.refresh().await.is_ok());
    assert_eq!(lock(&served).not_modified, 1);
    let text = metrics.render().unwrap();
    assert!(
        text.lines()
            .any(|l| l == r#"munjigi_saml_metadata_refreshes_total{site="a",result="unchanged"} 2"#),
        "{text}"
    );
}

/// An older signed document served again (an earlier validUntil) would roll
/// an SP back to old keys or endpoints: refused, the newer copy kept. A 304
/// renews nothing once the document is past its validUntil.
#[tokio::test]
async fn an_older_document_and_a_304_past_valid_until_are_refused() {
    let f = federation();
    let newer = aggregate(
        &f,
        &entity(A, "https://a.example/new-acs", ""),
        "2027-12-31T00:00:00Z",
    );
    let older = aggregate(
        &f,
        &entity(A, "https://a.example/old-acs", ""),
        "2027-06-30T00:00:00Z",
    );
    let served = Arc::new(Mutex::new(Served {
        etag: Some("\"v2\""),
        ..answer(200, newer)
    }));
    let url = serve(served.clone()).await;
    let clock = Arc::new(ManualClock::at(1_800_000_000));
    let metrics = crate::metrics::Metrics::new();
    let feed = test_feed(&url, &f, clock.clone(), &metrics);
    *lock(&feed.wants) = vec![Want {
        site: "a".to_owned(),
        entity_id: A.to_owned(),
        saml: settings(&url, &f.cert, A, false),
    }];
    assert!(feed.refresh().await.is_ok());
    *lock(&served) = answer(200, older);
    assert_eq!(feed.refresh().await, Err(()));
    let held = feed.current(A, clock.now()).unwrap();
    assert_eq!(
        held.sp.acs[0].url, "https://a.example/new-acs",
        "the newer copy kept"
    );
    // Back to the newer document with its ETag; then time passes its
    // validUntil (2027-12-31) and the server keeps saying 304.
    *lock(&served) = Served {
        etag: Some("\"v2\""),
        ..answer(
            200,
            aggregate(
                &f,
                &entity(A, "https://a.example/new-acs", ""),
                "2027-12-31T00:00:00Z",
            ),
        )
    };
    assert!(feed.refresh().await.is_ok());
    clock.advance(2_000_000_000 - 1_800_000_000);
    assert_eq!(
        feed.refresh().await,
        Err(()),
        "a 304 past validUntil is not a refresh"
    );
    let text = metrics.render().unwrap();
    assert!(
        text.lines().any(|l| l
            == r#"munjigi_saml_metadata_refreshes_total{site="a",result="document_refused"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_reload_keeps_the_feed_of_an_unchanged_url_and_signer() {
    let f = federation();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(1_800_000_000));
    let metrics = crate::metrics::Metrics::new().saml_metadata();
    let feeds = Feeds::default();
    let m = MetadataUrl {
        url: "http://127.0.0.1:9/md.xml".into(),
        signer: f.cert.clone(),
        entity_id: A.into(),
    };
    let first = feeds.get(&m, &clock, &metrics);
    let again = feeds.get(&m, &clock, &metrics);
    assert!(Arc::ptr_eq(&first, &again), "one feed per URL and signer");
    let other_signer = MetadataUrl {
        signer: federation().cert,
        ..m.clone()
    };
    assert!(!Arc::ptr_eq(
        &first,
        &feeds.get(&other_signer, &clock, &metrics)
    ));
    drop((first, again));
    let fresh = feeds.get(&m, &clock, &metrics);
    assert!(
        lock(&fresh.held).is_empty(),
        "a feed nobody held is made anew"
    );
}

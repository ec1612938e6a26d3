//! Revocation through the whole flow (issue 18 point 2): the gateway checks
//! the CA above the signer against its root's CRL, which the simulator
//! publishes beside the CA's; a CRL file put back to an older one after the
//! gateway saw a newer one does not un-revoke. Real simulator, real gateway,
//! the Authlib site.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use munjigi_e2e::*;

/// Waits (a few seconds at most) for a gateway log line holding every fragment.
async fn logged(w: &World, seen: &mut Vec<String>, fragments: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        seen.extend(w.gw.proc.drain());
        if let Some(l) = seen
            .iter()
            .find(|l| fragments.iter().all(|f| l.contains(f)))
        {
            return l.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no line with all of {fragments:?} in:\n{}",
            seen.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A Kakao login as HONG that ends on the MJ-P07 page.
async fn refused(w: &World) {
    let (mut b, base, done) = until_outcome_via(w, "kakao", &[], &HONG).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (page, _) = b
        .follow(&absolute(&base, done["next"].as_str().unwrap()))
        .await;
    assert!(page.body.contains("MJ-P07"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_provider_ca_refuses_its_logins_and_an_older_crl_does_not_undo_it() {
    let w = world("revocation");
    let mut seen = Vec::new();

    // Kakao's CA and root CRLs are current: a login passes.
    login_via(&w, "kakao", &[], &HONG).await;
    let crl = w.dir.path().join("pki/kakao/crl.pem");
    let older = std::fs::read(&crl).unwrap();

    // The root revokes Kakao's CA: every Kakao result is refused.
    assert_eq!(
        sim_control(&w.sim_url, "revoke-ca", r#"{"provider": "kakao"}"#),
        200
    );
    refused(&w).await;
    logged(&w, &mut seen, &["check=\"ca_revoked\""]).await;

    // The file goes back to the CRLs from before the revocation (a stale
    // mirror): the gateway keeps the newer ones, warns, and still refuses.
    let tmp = crl.with_extension("rollback");
    std::fs::write(&tmp, &older).unwrap();
    std::fs::rename(&tmp, &crl).unwrap();
    refused(&w).await;
    logged(
        &w,
        &mut seen,
        &[
            "provider=\"kakao\"",
            "an older CRL than one already seen is refused",
        ],
    )
    .await;
    logged(&w, &mut seen, &["check=\"ca_revoked\""]).await;

    // Another provider is not concerned.
    login_via(&w, "naver", &[], &HONG).await;
}

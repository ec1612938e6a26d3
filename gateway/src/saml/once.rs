//! A message is accepted once and only while it is fresh.
//!
//! Each SP's message IDs are remembered in the shared store (so a replay to
//! another replica is caught too) for longer than the freshness window, so a
//! message is either too old or remembered.

use crate::app::App;
use crate::rescue::GatewayError;
use crate::store::keys::Family;
use std::time::Duration;

/// How old a message may be, and how far ahead of our clock.
const MAX_AGE_SECS: i64 = 300;
const MAX_SKEW_SECS: i64 = 60;
/// Longer than the window above.
const REMEMBER: Duration = Duration::from_secs(600);

/// Whether `instant` is within the freshness window, by the gateway's clock.
pub fn fresh(app: &App, instant: chrono::DateTime<chrono::Utc>) -> bool {
    let age = crate::clock::utc(app.clock.as_ref())
        .signed_duration_since(instant)
        .num_seconds();
    (-MAX_SKEW_SECS..=MAX_AGE_SECS).contains(&age)
}

/// Records `(sp, kind, id)`; false when it was already seen.
pub async fn first_use(app: &App, sp: &str, kind: &str, id: &str) -> Result<bool, GatewayError> {
    let mut h = openssl::sha::Sha256::new();
    for part in [sp, kind, id] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    let key = Family::SamlId.key(&hex::encode(h.finish()));
    Ok(app.store.put_new(&key, b"1".to_vec(), REMEMBER).await?)
}

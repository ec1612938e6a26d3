//! A site's signature request as the store keeps it, from creation to receipt.
//!
//! Separate from the login transaction that collects the citizen's approval:
//! the request outlives it (the site fetches the receipt for days), and a
//! finished request can never be signed again because its status only moves
//! forward, by compare-and-swap.

use crate::rescue::GatewayError;
use crate::store::keys::Family;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Completed,
    Failed,
}

/// Who must sign, when the site says so: by the pairwise `sub` of a citizen
/// it knows, by name + birth date + phone, or both (then both must match).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignerBinding {
    /// The pairwise `sub` of a citizen known to this site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The person by name, birth date and phone; also prefills the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen: Option<crate::txn::StoredCitizen>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentMeta {
    pub title: String,
    pub media_type: String,
    /// SHA-256, hex.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureRecord {
    pub id: String,
    pub client_id: String,
    pub site_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub title: String,
    pub documents: Vec<DocumentMeta>,
    pub signer: Option<SignerBinding>,
    pub locale: Option<String>,
    pub created_at: u64,
    pub expires_at: u64,
    pub status: Status,
    /// The transaction collecting the citizen's approval, once one began.
    pub txn: Option<String>,
    /// Why it failed (a stable reason code).
    pub failure: Option<String>,
    /// The gateway-signed receipt (compact JWS), once completed.
    pub receipt: Option<String>,
}

pub fn key(id: &str) -> String {
    Family::Signature.key(id)
}

pub async fn load(
    store: &dyn Store,
    id: &str,
) -> Result<Option<(SignatureRecord, Vec<u8>)>, GatewayError> {
    if id.is_empty() || id.len() > 64 {
        return Ok(None);
    }
    let Some(raw) = store.get(&key(id)).await? else {
        return Ok(None);
    };
    let r = serde_json::from_slice(&raw)
        .map_err(|e| GatewayError::corrupt(format!("stored signature request unreadable: {e}")))?;
    Ok(Some((r, raw)))
}

/// Writes `r` if nobody changed it since `before`; false when someone did.
pub async fn save(
    store: &dyn Store,
    before: &[u8],
    r: &SignatureRecord,
    retention: Duration,
) -> Result<bool, GatewayError> {
    let bytes = serde_json::to_vec(r).map_err(GatewayError::encode)?;
    Ok(store.swap(&key(&r.id), before, bytes, retention).await?)
}

pub async fn create(
    store: &dyn Store,
    r: &SignatureRecord,
    retention: Duration,
) -> Result<bool, GatewayError> {
    let bytes = serde_json::to_vec(r).map_err(GatewayError::encode)?;
    Ok(store.put_new(&key(&r.id), bytes, retention).await?)
}

//! The JSON bodies of Kakao's certification API (K1100 본인인증) as the
//! simulator reads and writes them.
//!
//! The simulator's own structs, not the adapter's: written from Kakao's
//! public record (`tx_id`, `sign_data`, `identify_items`, `requested_at`,
//! `request_expired_at`, `signed_at`) and `PROVIDERS.md` (family C), so an
//! adapter mistake in a field is refused here, not mirrored. Requests are
//! `deny_unknown_fields`.
//!
//! Not here: validation (the routes check what they receive).

use serde::{Deserialize, Serialize};

/// `POST /sign/v2/prepare/{product}`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(deny_unknown_fields)]
pub struct PrepareRequest {
    /// National mobile number, digits only (`01012345678`).
    pub phone_number: String,
    pub name: String,
    /// `YYYYMMDD`.
    pub birthday: String,
    /// What the citizen's certificate signs: the gateway's nonce.
    pub sign_data: String,
    /// Request lifetime, seconds.
    pub expires_in: u32,
    /// Shown in KakaoTalk as the request title.
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct PrepareResponse {
    pub tx_id: String,
}

/// `POST /sign/v2/request/{product}`: push the prepared request to the citizen.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    pub tx_id: String,
    /// Which signer data the signer-info call may release; `CI` for the CI.
    pub identify_items: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct SignRequestResponse {
    pub tx_id: String,
    /// RFC 3339 UTC.
    pub requested_at: Option<String>,
    pub request_expired_at: Option<String>,
}

/// A request's state as Kakao reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TxStatus {
    /// Prepared, not pushed yet.
    Prepare,
    /// Pushed; waiting for the citizen.
    Request,
    /// Signed in KakaoTalk; the signed value is waiting to be fetched.
    Complete,
    /// The citizen declined.
    Reject,
    /// Nobody acted in time.
    Expired,
}

/// `GET /sign/v2/status/{product}?tx_id=…`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct StatusResponse {
    pub tx_id: String,
    pub status: TxStatus,
    pub requested_at: Option<String>,
    pub request_expired_at: Option<String>,
    /// When the citizen opened the request, if they did.
    #[serde(default)]
    pub viewed_at: Option<String>,
    pub signed_at: Option<String>,
}

/// `POST /sign/v2/verify/{product}` and `POST /sign/v2/signer/{product}`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(deny_unknown_fields)]
pub struct TxRequest {
    pub tx_id: String,
}

/// The signed value: delivered once, then deleted at Kakao.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct VerifyResponse {
    pub tx_id: String,
    pub status: TxStatus,
    /// Base64 of the CMS SignedData (DER, content attached).
    pub signed_data: String,
}

/// Who signed, over the authenticated channel (personal data: never logged).
#[derive(Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct SignerInfoResponse {
    pub tx_id: String,
    pub name: Option<String>,
    /// `YYYYMMDD`.
    pub birthday: Option<String>,
    /// National digits.
    pub phone_number: Option<String>,
    /// `MALE` / `FEMALE`.
    pub gender: Option<String>,
    /// Present when `CI` was among `identify_items`.
    pub ci: Option<String>,
}

/// Any refusal: an E-code and a message, with the code's HTTP status.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct ErrorBody {
    pub error_code: String,
    #[serde(default)]
    pub error_message: String,
}

//! Toss-direct JSON shapes, as the adapter writes and reads them. The
//! simulator has its own (`munjigi_sim`), so a mistake here is refused there,
//! not mirrored.
//!
//! Requests are strict (`deny_unknown_fields`), as Toss is; answers are
//! lenient about extra fields. Personal fields
//! hold session-encrypted text ([`super::session`]), never plain values.

use serde::{Deserialize, Serialize};

/// `resultType` of every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ResultType {
    Success,
    Fail,
}

/// `{resultType, success | error}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope<T> {
    pub result_type: ResultType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    pub error_code: String,
    /// Toss's words: read, never carried into errors or logs
    /// (`codes::map_refusal`).
    #[serde(default)]
    pub reason: String,
}

/// The OAuth2 token answer.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(default)]
    pub scope: Option<String>,
}

/// An OAuth2 error (RFC 6749 §5.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OAuthError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// `POST /api/v2/sign/user/auth/request`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuthRequest {
    /// `USER_PERSONAL`: the RP names the person (encrypted fields below).
    pub request_type: String,
    /// `PUSH`: Toss pushes the request to the app; `APP_SCHEME`: the answer
    /// carries links that open it from a browser on the same phone.
    pub trigger_type: String,
    pub session_key: String,
    pub user_name: String,
    /// National digits, encrypted.
    pub user_phone: String,
    /// `YYYYMMDD`, encrypted.
    pub user_birthday: String,
    /// The nonce the app signs (our reading of the field name).
    pub sign_data: String,
    /// Lifetime in seconds (our reading).
    pub expire_seconds: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthRequestSuccess {
    pub tx_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_dt: Option<String>,
    /// `APP_SCHEME` requests: the links that open the Toss app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_app_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_app_uri: Option<String>,
}

/// `POST …/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TxRequest {
    pub tx_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum TxStatus {
    Requested,
    InProgress,
    Completed,
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusSuccess {
    pub tx_id: String,
    pub status: TxStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_dt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_dt: Option<String>,
}

/// `POST …/result`: a new session for the personal data of the answer.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResultRequest {
    pub tx_id: String,
    pub session_key: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultSuccess {
    pub tx_id: String,
    pub status: TxStatus,
    /// Base64 of the CMS SignedData (DER, content attached).
    pub signature: String,
    pub personal_data: PersonalData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_dt: Option<String>,
}

/// Who signed, each field encrypted under the result call's session.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PersonalData {
    pub ci: Option<String>,
    pub di: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// `YYYYMMDD`.
    pub birthday: Option<String>,
    /// `MALE` / `FEMALE`.
    pub gender: Option<String>,
    /// `LOCAL` / `FOREIGNER`.
    pub nationality: Option<String>,
}

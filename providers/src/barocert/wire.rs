//! The broker's JSON bodies, field for field as the barocert SDKs send and read
//! them; shared by the adapter and the simulator so the two cannot drift.
//!
//! Requests the simulator parses are `deny_unknown_fields` (a field the broker
//! does not know is a bug on our side); responses the adapter parses accept
//! extra fields (the broker adds fields over time). None of these types derives
//! `Debug`: they carry personal data and tokens.
//!
//! Not here: encryption (fields arrive already encrypted), HTTP, validation.

use serde::{Deserialize, Serialize};

/// `POST /BAROCERT/Token` body.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    pub access_id: String,
    pub scope: Vec<String>,
}

/// The token service's answer.
#[derive(Serialize, Deserialize)]
pub(crate) struct TokenResponse {
    pub session_token: String,
    #[serde(rename = "serviceID", default)]
    pub service_id: String,
    #[serde(rename = "linkID", default)]
    pub link_id: String,
    #[serde(default)]
    pub usercode: String,
    #[serde(default)]
    pub ipaddress: String,
    /// RFC 3339 UTC, e.g. `2024-01-31T06:06:07.000Z`.
    pub expiration: String,
    #[serde(default)]
    pub scope: Vec<String>,
}

/// `POST /{PRODUCT}/Identity/{clientCode}` body (본인인증 요청).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityRequest {
    /// Encrypted, `01012345678`.
    #[serde(rename = "receiverHP")]
    pub receiver_hp: String,
    /// Encrypted.
    #[serde(rename = "receiverName")]
    pub receiver_name: String,
    /// Encrypted, `19900131`.
    #[serde(rename = "receiverBirthday")]
    pub receiver_birthday: String,
    /// Plain; shown in the app.
    #[serde(rename = "reqTitle")]
    pub req_title: String,
    /// Seconds.
    #[serde(rename = "expireIn")]
    pub expire_in: u32,
    /// Encrypted; the text the app signs.
    pub token: String,
    #[serde(rename = "returnURL", default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(rename = "appUseYN", default)]
    pub app_use_yn: bool,
}

/// Answer to the identity request.
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityReceipt {
    #[serde(rename = "receiptID")]
    pub receipt_id: String,
    #[serde(default)]
    pub scheme: Option<String>,
}

/// `GET /{PRODUCT}/Identity/{clientCode}/{receiptID}` answer.
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityStatus {
    #[serde(rename = "receiptID")]
    pub receipt_id: String,
    #[serde(rename = "clientCode", default)]
    pub client_code: String,
    pub state: i64,
    #[serde(rename = "expireIn", default)]
    pub expire_in: u32,
    #[serde(rename = "callCenterName", default)]
    pub call_center_name: Option<String>,
    #[serde(rename = "callCenterNum", default)]
    pub call_center_num: Option<String>,
    #[serde(rename = "reqTitle", default)]
    pub req_title: Option<String>,
    #[serde(rename = "authCategory", default)]
    pub auth_category: Option<String>,
    #[serde(rename = "returnURL", default)]
    pub return_url: Option<String>,
    #[serde(rename = "requestDT", default)]
    pub request_dt: Option<String>,
    #[serde(rename = "viewDT", default)]
    pub view_dt: Option<String>,
    #[serde(rename = "completeDT", default)]
    pub complete_dt: Option<String>,
    #[serde(rename = "expireDT", default)]
    pub expire_dt: Option<String>,
    #[serde(rename = "verifyDT", default)]
    pub verify_dt: Option<String>,
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(rename = "appUseYN", default)]
    pub app_use_yn: bool,
}

/// `POST /{PRODUCT}/Identity/{clientCode}/{receiptID}` answer (본인인증 검증).
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityResult {
    #[serde(rename = "receiptID")]
    pub receipt_id: String,
    pub state: i64,
    #[serde(rename = "receiverName", default)]
    pub receiver_name: Option<String>,
    /// `1990`.
    #[serde(rename = "receiverYear", default)]
    pub receiver_year: Option<String>,
    /// `0131`.
    #[serde(rename = "receiverDay", default)]
    pub receiver_day: Option<String>,
    /// `01012345678`.
    #[serde(rename = "receiverHP", default)]
    pub receiver_hp: Option<String>,
    /// `MALE` / `FEMALE`.
    #[serde(rename = "receiverGender", default)]
    pub receiver_gender: Option<String>,
    /// `Y` / `N`.
    #[serde(rename = "receiverForeign", default)]
    pub receiver_foreign: Option<String>,
    /// `SKT`, `KT`, `LGU`, `SKM`, `KTM`, `LGM`.
    #[serde(rename = "receiverTelcoType", default)]
    pub receiver_telco_type: Option<String>,
    /// CMS SignedData, base64.
    #[serde(rename = "signedData")]
    pub signed_data: String,
    /// 88-character base64 CI.
    pub ci: String,
}

/// Every refusal: non-200 with this body.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: i64,
    pub message: String,
}

//! The broker's JSON bodies, field for field as the barocert SDKs send and read
//! them, as the adapter writes and reads them. The simulator has its own
//! (`munjigi_sim`), so a mistake here is refused there, not mirrored.
//!
//! Requests are `deny_unknown_fields` (a field the broker does not know is a
//! bug on our side); responses the adapter parses accept extra fields (the
//! broker adds fields over time). None of these types derives
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

/// `POST /{PRODUCT}/Identity/{clientCode}` body (본인인증 요청). One shape for
/// the four products: a field a product does not take is absent (never sent as
/// `null`), and the simulator refuses it ([`super::BarocertProduct`] says which).
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
    /// Plain; shown in the app (Kakao, PASS).
    #[serde(rename = "reqTitle", default, skip_serializing_if = "Option::is_none")]
    pub req_title: Option<String>,
    /// Plain; the RP's customer-service number (Naver, PASS).
    #[serde(
        rename = "callCenterNum",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub call_center_num: Option<String>,
    /// Seconds.
    #[serde(rename = "expireIn")]
    pub expire_in: u32,
    /// Encrypted; the text the app signs (Kakao, PASS, Toss; Naver takes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// PASS: show the terms-of-use consent in the app.
    #[serde(
        rename = "userAgreementYN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_agreement_yn: Option<bool>,
    /// PASS: return the receiver's personal data with the result.
    #[serde(
        rename = "receiverInfoYN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receiver_info_yn: Option<bool>,
    #[serde(rename = "returnURL", default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(rename = "appUseYN", default)]
    pub app_use_yn: bool,
    /// App-to-app (Naver, PASS): `ANDROID` or `IOS`.
    #[serde(
        rename = "deviceOSType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_os_type: Option<String>,
    /// App-to-app (PASS): `SKT`, `KT` or `LGU`.
    #[serde(rename = "telcoType", default, skip_serializing_if = "Option::is_none")]
    pub telco_type: Option<String>,
}

/// PASS's verify body (identity and sign): the receiver again, encrypted like
/// the request.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityVerifyRequest {
    /// Encrypted.
    #[serde(rename = "receiverHP")]
    pub receiver_hp: String,
    /// Encrypted.
    #[serde(rename = "receiverName")]
    pub receiver_name: String,
}

/// Answer to the identity request.
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityReceipt {
    #[serde(rename = "receiptID")]
    pub receipt_id: String,
    #[serde(default)]
    pub scheme: Option<String>,
    /// App-to-app: where to install the app (Naver, PASS).
    #[serde(rename = "marketUrl", default, skip_serializing_if = "Option::is_none")]
    pub market_url: Option<String>,
}

/// `GET /{PRODUCT}/{Identity|Sign|MultiSign}/{clientCode}/{receiptID}` answer
/// (the same shape for the three APIs).
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

/// The receiver fields every verify answer carries (identity, sign and
/// multi-sign results alike), and the CI.
#[derive(Serialize, Deserialize)]
pub(crate) struct Receiver {
    #[serde(rename = "receiverName", default)]
    pub receiver_name: Option<String>,
    /// `1990`.
    #[serde(rename = "receiverYear", default)]
    pub receiver_year: Option<String>,
    /// `0131`.
    #[serde(rename = "receiverDay", default)]
    pub receiver_day: Option<String>,
    /// `01012345678` (not in PASS's identity result).
    #[serde(
        rename = "receiverHP",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receiver_hp: Option<String>,
    /// `MALE` / `FEMALE`.
    #[serde(rename = "receiverGender", default)]
    pub receiver_gender: Option<String>,
    /// `Y` / `N`.
    #[serde(rename = "receiverForeign", default)]
    pub receiver_foreign: Option<String>,
    /// `SKT`, `KT`, `LGU`, `SKM`, `KTM`, `LGM` (Kakao, PASS).
    #[serde(
        rename = "receiverTelcoType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receiver_telco_type: Option<String>,
    /// The Naver account's e-mail (Naver; Toss may add it).
    #[serde(
        rename = "receiverEmail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receiver_email: Option<String>,
    /// 88-character base64 CI.
    pub ci: String,
}

/// The verify answer (본인인증 검증; path per [`super::BarocertProduct::verify_path`]),
/// and the single `Sign` verify answer (전자서명 검증) of the same shape.
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityResult {
    #[serde(rename = "receiptID")]
    pub receipt_id: String,
    pub state: i64,
    #[serde(flatten)]
    pub receiver: Receiver,
    /// CMS SignedData, base64.
    #[serde(rename = "signedData")]
    pub signed_data: String,
}

/// `POST /{PRODUCT}/Sign/{clientCode}` body (전자서명 요청, one document). A
/// field a product does not take is absent, and the simulator refuses it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignRequest {
    /// Encrypted.
    #[serde(rename = "receiverHP")]
    pub receiver_hp: String,
    /// Encrypted.
    #[serde(rename = "receiverName")]
    pub receiver_name: String,
    /// Encrypted.
    #[serde(rename = "receiverBirthday")]
    pub receiver_birthday: String,
    /// Plain; shown in the app.
    #[serde(rename = "reqTitle")]
    pub req_title: String,
    /// Encrypted; the message under the title (Naver, PASS).
    #[serde(
        rename = "reqMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub req_message: Option<String>,
    /// Plain (Naver, PASS).
    #[serde(
        rename = "callCenterNum",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub call_center_num: Option<String>,
    #[serde(rename = "expireIn")]
    pub expire_in: u32,
    /// Encrypted; the text, or base64 of the SHA-256 for `HASH`.
    pub token: String,
    /// `TEXT` or `HASH`.
    #[serde(rename = "tokenType")]
    pub token_type: String,
    /// PASS.
    #[serde(
        rename = "userAgreementYN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_agreement_yn: Option<bool>,
    /// PASS.
    #[serde(
        rename = "receiverInfoYN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receiver_info_yn: Option<bool>,
    #[serde(rename = "returnURL", default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(rename = "appUseYN", default)]
    pub app_use_yn: bool,
}

/// One document of a `MultiSign` request.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MultiSignToken {
    /// Plain; the document's title (Kakao).
    #[serde(rename = "signTitle", default, skip_serializing_if = "Option::is_none")]
    pub sign_title: Option<String>,
    /// Plain; the document's title (Toss).
    #[serde(rename = "reqTitle", default, skip_serializing_if = "Option::is_none")]
    pub req_title: Option<String>,
    /// `TEXT` or `HASH` (Naver, Toss; Kakao has one for all tokens).
    #[serde(rename = "tokenType", default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Encrypted.
    pub token: String,
}

/// `POST /{PRODUCT}/MultiSign/{clientCode}` body (전자서명 요청, several documents).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MultiSignRequest {
    /// Encrypted.
    #[serde(rename = "receiverHP")]
    pub receiver_hp: String,
    /// Encrypted.
    #[serde(rename = "receiverName")]
    pub receiver_name: String,
    /// Encrypted.
    #[serde(rename = "receiverBirthday")]
    pub receiver_birthday: String,
    /// Plain (Kakao, Naver).
    #[serde(rename = "reqTitle", default, skip_serializing_if = "Option::is_none")]
    pub req_title: Option<String>,
    /// Encrypted (Naver).
    #[serde(
        rename = "reqMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub req_message: Option<String>,
    /// Plain (Naver).
    #[serde(
        rename = "callCenterNum",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub call_center_num: Option<String>,
    #[serde(rename = "expireIn")]
    pub expire_in: u32,
    /// One `tokenType` for every token (Kakao).
    #[serde(rename = "tokenType", default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// In order; the result keeps it.
    pub tokens: Vec<MultiSignToken>,
    #[serde(rename = "returnURL", default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(rename = "appUseYN", default)]
    pub app_use_yn: bool,
}

/// The `MultiSign` verify answer: the [`Receiver`] fields, and one CMS per
/// document in request order.
#[derive(Serialize, Deserialize)]
pub(crate) struct MultiSignResult {
    #[serde(rename = "receiptID")]
    pub receipt_id: String,
    pub state: i64,
    #[serde(flatten)]
    pub receiver: Receiver,
    /// CMS SignedData per document, base64.
    #[serde(rename = "multiSignedData")]
    pub multi_signed_data: Vec<String>,
}

/// Every refusal: non-200 with this body.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: i64,
    pub message: String,
}

//! The broker's error codes and what each means to the gateway: one table, read
//! by the adapter (to map a refusal to a [`ProviderError`]) and by the simulator
//! (to refuse the way the broker does).
//!
//! barocert answers a refusal with a non-200 status and `{"code": <negative
//! 8-digit number>, "message": "…"}`. Its published codes are per product and
//! only partly public, so this table is **Munjigi's**: the codes the simulator
//! answers with, grouped like Linkhub's (`-1000xxxx` token service,
//! `-11xxxxxx` API access, `-12xxxxxx` request fields, `-13xxxxxx` person,
//! `-14xxxxxx` receipt state). Against the real broker an unknown code falls back
//! to its HTTP status (401/403 → unauthorized, 5xx → unavailable, other 4xx →
//! bad request), so an unlisted code is never silently treated as success.
//!
//! Not here: HTTP, JSON or logging.

use crate::error::ProviderError;

/// One refusal the broker (and the simulator) can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrokerCode {
    // Token service (`POST /BAROCERT/Token`).
    /// LinkID unknown to the token service.
    UnknownLinkId,
    /// `Authorization: LINKHUB` signature does not verify.
    TokenSignature,
    /// `x-lh-date` missing or outside the allowed clock skew.
    TokenClock,
    /// Token request malformed (header, version, body or scope).
    TokenRequest,

    // API access.
    /// No `Authorization: Bearer` token.
    SessionMissing,
    /// Session token unknown or expired: get a new one and try once more.
    SessionInvalid,
    /// `x-bc-auth` does not verify.
    BadHmac,
    /// `x-bc-date` missing or outside the allowed clock skew.
    ClockSkew,
    /// The session token's scope does not cover this product.
    ScopeDenied,
    /// clientCode not registered for this LinkID.
    UnknownClient,
    /// Missing or unsupported `x-bc-version` / `x-bc-encryptionmode`.
    BadVersion,
    /// Body is not the expected JSON.
    BadBody,
    /// No such route, or the product is not offered.
    NoSuchRoute,
    /// The broker is in maintenance.
    Maintenance,
    /// The broker failed internally.
    Internal,

    // Request fields.
    BadPhone,
    BadName,
    BadBirthday,
    BadTitle,
    BadExpireIn,
    BadToken,
    /// `callCenterNum` missing where the product requires it.
    BadCallCenter,
    /// An encrypted field does not decrypt (wrong key or tampered).
    Undecryptable,
    /// receiptID is not 32 digits.
    MalformedReceipt,
    /// clientCode is not 12 digits.
    MalformedClient,
    /// A multi-sign request with no documents or more than the product allows.
    BadTokenCount,
    /// App-to-app fields missing, unknown or not taken by the product
    /// (`deviceOSType`, `telcoType`, a web `returnURL` where only app schemes go).
    BadAppToApp,

    // Person.
    UnknownPerson,
    PersonMismatch,
    AccountDormant,

    // Receipt state.
    UnknownReceipt,
    NotCompleted,
    AlreadyVerified,
    ReceiptExpired,
    ReceiptRejected,
    VerifyTooLate,
    ReceiptFailed,
}

impl BrokerCode {
    pub const ALL: [BrokerCode; 37] = [
        Self::UnknownLinkId,
        Self::TokenSignature,
        Self::TokenClock,
        Self::TokenRequest,
        Self::SessionMissing,
        Self::SessionInvalid,
        Self::BadHmac,
        Self::ClockSkew,
        Self::ScopeDenied,
        Self::UnknownClient,
        Self::BadVersion,
        Self::BadBody,
        Self::NoSuchRoute,
        Self::Maintenance,
        Self::Internal,
        Self::BadPhone,
        Self::BadName,
        Self::BadBirthday,
        Self::BadTitle,
        Self::BadExpireIn,
        Self::BadToken,
        Self::BadCallCenter,
        Self::Undecryptable,
        Self::MalformedReceipt,
        Self::MalformedClient,
        Self::BadTokenCount,
        Self::BadAppToApp,
        Self::UnknownPerson,
        Self::PersonMismatch,
        Self::AccountDormant,
        Self::UnknownReceipt,
        Self::NotCompleted,
        Self::AlreadyVerified,
        Self::ReceiptExpired,
        Self::ReceiptRejected,
        Self::VerifyTooLate,
        Self::ReceiptFailed,
    ];

    /// The number on the wire.
    pub fn code(self) -> i64 {
        match self {
            Self::UnknownLinkId => -10_000_010,
            Self::TokenSignature => -10_000_032,
            Self::TokenClock => -10_000_036,
            Self::TokenRequest => -10_000_037,
            Self::SessionMissing => -11_000_001,
            Self::SessionInvalid => -11_000_002,
            Self::BadHmac => -11_000_003,
            Self::ClockSkew => -11_000_004,
            Self::ScopeDenied => -11_000_005,
            Self::UnknownClient => -11_000_006,
            Self::BadVersion => -11_000_007,
            Self::BadBody => -11_000_008,
            Self::NoSuchRoute => -11_000_009,
            Self::Maintenance => -11_000_010,
            Self::Internal => -11_000_099,
            Self::BadPhone => -12_000_001,
            Self::BadName => -12_000_002,
            Self::BadBirthday => -12_000_003,
            Self::BadTitle => -12_000_004,
            Self::BadExpireIn => -12_000_005,
            Self::BadToken => -12_000_006,
            Self::Undecryptable => -12_000_007,
            Self::MalformedReceipt => -12_000_008,
            Self::MalformedClient => -12_000_009,
            Self::BadCallCenter => -12_000_010,
            Self::BadTokenCount => -12_000_011,
            Self::BadAppToApp => -12_000_012,
            Self::UnknownPerson => -13_000_001,
            Self::PersonMismatch => -13_000_002,
            Self::AccountDormant => -13_000_003,
            Self::UnknownReceipt => -14_000_001,
            Self::NotCompleted => -14_000_002,
            Self::AlreadyVerified => -14_000_003,
            Self::ReceiptExpired => -14_000_004,
            Self::ReceiptRejected => -14_000_005,
            Self::VerifyTooLate => -14_000_006,
            Self::ReceiptFailed => -14_000_007,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The HTTP status the simulator answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::UnknownLinkId
            | Self::TokenSignature
            | Self::TokenClock
            | Self::SessionMissing
            | Self::SessionInvalid
            | Self::BadHmac
            | Self::ClockSkew => 401,
            Self::ScopeDenied | Self::UnknownClient => 403,
            Self::NoSuchRoute | Self::UnknownReceipt => 404,
            Self::Maintenance => 503,
            Self::Internal => 500,
            _ => 400,
        }
    }

    /// The message the simulator sends (Korean, as the broker's are).
    pub fn message(self) -> &'static str {
        match self {
            Self::UnknownLinkId => "등록되지 않은 링크아이디입니다.",
            Self::TokenSignature => "인증토큰 요청의 서명이 올바르지 않습니다.",
            Self::TokenClock => "요청 시간이 허용 범위를 벗어났습니다.",
            Self::TokenRequest => "인증토큰 요청 형식이 올바르지 않습니다.",
            Self::SessionMissing => "인증토큰이 입력되지 않았습니다.",
            Self::SessionInvalid => "인증토큰이 유효하지 않거나 만료되었습니다.",
            Self::BadHmac => "요청 서명(x-bc-auth)이 올바르지 않습니다.",
            Self::ClockSkew => "요청 시간(x-bc-date)이 허용 범위를 벗어났습니다.",
            Self::ScopeDenied => "인증토큰의 권한으로 이용할 수 없는 서비스입니다.",
            Self::UnknownClient => "등록되지 않은 이용기관코드입니다.",
            Self::BadVersion => "지원하지 않는 API 버전 또는 암호화 방식입니다.",
            Self::BadBody => "요청 본문 형식이 올바르지 않습니다.",
            Self::NoSuchRoute => "존재하지 않는 API입니다.",
            Self::Maintenance => "서비스 점검 중입니다.",
            Self::Internal => "처리 중 오류가 발생했습니다.",
            Self::BadPhone => "수신자 휴대폰번호가 올바르지 않습니다.",
            Self::BadName => "수신자 성명이 올바르지 않습니다.",
            Self::BadBirthday => "생년월일이 올바르지 않습니다.",
            Self::BadTitle => "인증요청 메시지 제목이 올바르지 않습니다.",
            Self::BadExpireIn => "만료시간이 허용 범위를 벗어났습니다.",
            Self::BadToken => "토큰 원문이 올바르지 않습니다.",
            Self::BadCallCenter => "고객센터 연락처가 입력되지 않았습니다.",
            Self::Undecryptable => "암호화된 항목을 복호화할 수 없습니다.",
            Self::MalformedReceipt => "접수아이디는 32자리 숫자입니다.",
            Self::MalformedClient => "이용기관코드는 12자리 숫자입니다.",
            Self::BadTokenCount => "전자서명 요청 건수가 허용 범위를 벗어났습니다.",
            Self::BadAppToApp => "AppToApp 요청 정보가 올바르지 않습니다.",
            Self::UnknownPerson => "인증서 이용자를 찾을 수 없습니다.",
            Self::PersonMismatch => "이용자 정보가 일치하지 않습니다.",
            Self::AccountDormant => "휴면 또는 탈퇴한 이용자입니다.",
            Self::UnknownReceipt => "존재하지 않는 접수아이디입니다.",
            Self::NotCompleted => "서명이 완료되지 않았습니다.",
            Self::AlreadyVerified => "이미 검증된 요청입니다.",
            Self::ReceiptExpired => "만료된 요청입니다.",
            Self::ReceiptRejected => "이용자가 거절한 요청입니다.",
            Self::VerifyTooLate => "검증 가능 시간이 지났습니다.",
            Self::ReceiptFailed => "처리에 실패한 요청입니다.",
        }
    }

    /// Whether a fresh session token may cure this refusal (the adapter retries once).
    pub fn session_refresh_helps(self) -> bool {
        matches!(self, Self::SessionMissing | Self::SessionInvalid)
    }

    /// What this refusal means to the gateway.
    pub fn to_error(self) -> ProviderError {
        let code = self.code().to_string();
        match self {
            Self::UnknownLinkId
            | Self::TokenSignature
            | Self::TokenClock
            | Self::SessionMissing
            | Self::SessionInvalid
            | Self::BadHmac
            | Self::ClockSkew
            | Self::ScopeDenied
            | Self::UnknownClient => ProviderError::Unauthorized { code },
            Self::Maintenance | Self::Internal => ProviderError::Unavailable {
                code,
                retryable: true,
            },
            Self::ReceiptFailed => ProviderError::Unavailable {
                code,
                retryable: false,
            },
            Self::TokenRequest
            | Self::BadVersion
            | Self::BadBody
            | Self::NoSuchRoute
            | Self::BadPhone
            | Self::BadName
            | Self::BadBirthday
            | Self::BadTitle
            | Self::BadExpireIn
            | Self::BadToken
            | Self::BadCallCenter
            | Self::Undecryptable
            | Self::MalformedReceipt
            | Self::MalformedClient
            | Self::BadTokenCount
            | Self::BadAppToApp
            | Self::UnknownReceipt => ProviderError::BadRequest {
                code,
                message: self.message().to_owned(),
            },
            Self::UnknownPerson => ProviderError::UnknownPerson,
            Self::PersonMismatch => ProviderError::PersonMismatch,
            Self::AccountDormant => ProviderError::AccountUnusable,
            Self::NotCompleted => ProviderError::NotReady,
            Self::AlreadyVerified => ProviderError::AlreadyUsed,
            Self::ReceiptExpired => ProviderError::Expired,
            Self::ReceiptRejected => ProviderError::Rejected,
            Self::VerifyTooLate => ProviderError::TooLate,
        }
    }
}

/// Maps a broker refusal (HTTP status, code and message) to a [`ProviderError`].
/// Unknown codes fall back to the HTTP status. The message is kept only for bad
/// requests, truncated, since it goes to operator logs.
pub fn map_refusal(http_status: u16, code: Option<i64>, message: &str) -> ProviderError {
    if let Some(known) = code.and_then(BrokerCode::from_code) {
        return known.to_error();
    }
    let code = code.map_or_else(|| format!("http-{http_status}"), |c| c.to_string());
    match http_status {
        401 | 403 => ProviderError::Unauthorized { code },
        500..=599 => ProviderError::Unavailable {
            code,
            retryable: true,
        },
        400..=499 => ProviderError::BadRequest {
            code,
            message: message.chars().take(200).collect(),
        },
        _ => ProviderError::Protocol(format!("unexpected HTTP {http_status} with code {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_negative_and_round_trip() {
        let mut seen = HashSet::new();
        for c in BrokerCode::ALL {
            assert!(c.code() < 0, "{c:?}");
            assert!(seen.insert(c.code()), "duplicate {c:?}");
            assert_eq!(BrokerCode::from_code(c.code()), Some(c));
            assert!(!c.message().is_empty());
            assert!((400..600).contains(&c.http_status()));
        }
        assert_eq!(BrokerCode::from_code(-1), None);
    }

    #[test]
    fn refusals_map_to_provider_errors() {
        use BrokerCode as B;
        let m = |c: B| map_refusal(c.http_status(), Some(c.code()), c.message());
        assert!(matches!(m(B::AlreadyVerified), ProviderError::AlreadyUsed));
        assert!(matches!(m(B::NotCompleted), ProviderError::NotReady));
        assert!(matches!(m(B::ReceiptExpired), ProviderError::Expired));
        assert!(matches!(m(B::ReceiptRejected), ProviderError::Rejected));
        assert!(matches!(m(B::VerifyTooLate), ProviderError::TooLate));
        assert!(matches!(m(B::UnknownPerson), ProviderError::UnknownPerson));
        assert!(matches!(
            m(B::PersonMismatch),
            ProviderError::PersonMismatch
        ));
        assert!(matches!(
            m(B::AccountDormant),
            ProviderError::AccountUnusable
        ));
        assert!(
            matches!(m(B::BadHmac), ProviderError::Unauthorized { ref code } if code == "-11000003")
        );
        assert!(matches!(
            m(B::TokenSignature),
            ProviderError::Unauthorized { .. }
        ));
        assert!(matches!(
            m(B::Maintenance),
            ProviderError::Unavailable {
                retryable: true,
                ..
            }
        ));
        assert!(matches!(
            m(B::ReceiptFailed),
            ProviderError::Unavailable {
                retryable: false,
                ..
            }
        ));
        assert!(matches!(
            m(B::MalformedReceipt),
            ProviderError::BadRequest { .. }
        ));
        assert!(B::SessionInvalid.session_refresh_helps());
        assert!(!B::BadHmac.session_refresh_helps());
    }

    #[test]
    fn unknown_codes_fall_back_to_http_status() {
        assert!(matches!(
            map_refusal(401, Some(-99_999_999), "x"),
            ProviderError::Unauthorized { .. }
        ));
        assert!(matches!(
            map_refusal(502, None, ""),
            ProviderError::Unavailable { retryable: true, ref code } if code == "http-502"
        ));
        assert!(matches!(
            map_refusal(400, Some(-46_301_013), &"긴".repeat(500)),
            ProviderError::BadRequest { ref message, .. } if message.chars().count() == 200
        ));
        assert!(matches!(
            map_refusal(302, None, ""),
            ProviderError::Protocol(_)
        ));
    }
}

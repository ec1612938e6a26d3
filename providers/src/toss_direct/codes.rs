//! Toss-direct refusals: the envelope's `errorCode` values the adapter knows, and
//! how each (or an unknown one, by HTTP status) becomes a [`ProviderError`].
//!
//! The codes are our reading (the public SDK shows the envelope, not a code
//! table); the simulator answers with exactly these. Unknown codes keep their
//! text in the error so operators can grep it.

use crate::error::ProviderError;

/// The refusals the simulator gives and the adapter maps by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TossCode {
    /// The bearer token is missing, expired or unknown (HTTP 401).
    InvalidToken,
    /// A field is missing or malformed.
    InvalidParameter,
    /// The `sessionKey` does not open with Toss's private key.
    InvalidSessionKey,
    /// A personal field does not decrypt under the session.
    DecryptionFailed,
    /// No Toss user with that phone number.
    UserNotFound,
    /// Name or birthday differ from the Toss account.
    UserInfoMismatch,
    /// The account cannot sign (dormant, withdrawn, no certificate).
    UserUnavailable,
    /// No transaction with that txId for this client.
    TxNotFound,
    /// The citizen has not finished yet.
    TxNotCompleted,
    /// The request expired before it was completed.
    TxExpired,
    /// The result was already read twice.
    ResultReadLimitExceeded,
    /// Toss failed internally (HTTP 500).
    Internal,
    /// The service is under maintenance (HTTP 503).
    Maintenance,
}

impl TossCode {
    pub const ALL: [TossCode; 13] = [
        Self::InvalidToken,
        Self::InvalidParameter,
        Self::InvalidSessionKey,
        Self::DecryptionFailed,
        Self::UserNotFound,
        Self::UserInfoMismatch,
        Self::UserUnavailable,
        Self::TxNotFound,
        Self::TxNotCompleted,
        Self::TxExpired,
        Self::ResultReadLimitExceeded,
        Self::Internal,
        Self::Maintenance,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidToken => "INVALID_TOKEN",
            Self::InvalidParameter => "INVALID_PARAMETER",
            Self::InvalidSessionKey => "INVALID_SESSION_KEY",
            Self::DecryptionFailed => "DECRYPTION_FAILED",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::UserInfoMismatch => "USER_INFO_MISMATCH",
            Self::UserUnavailable => "USER_UNAVAILABLE",
            Self::TxNotFound => "TX_NOT_FOUND",
            Self::TxNotCompleted => "TX_NOT_COMPLETED",
            Self::TxExpired => "TX_EXPIRED",
            Self::ResultReadLimitExceeded => "RESULT_READ_LIMIT_EXCEEDED",
            Self::Internal => "INTERNAL_SERVER_ERROR",
            Self::Maintenance => "SERVICE_UNAVAILABLE",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == s)
    }

    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidToken => 401,
            Self::TxNotFound => 404,
            Self::Internal => 500,
            Self::Maintenance => 503,
            _ => 400,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Self::InvalidToken => "유효하지 않은 토큰입니다",
            Self::InvalidParameter => "요청 파라미터가 올바르지 않습니다",
            Self::InvalidSessionKey => "세션 키가 올바르지 않습니다",
            Self::DecryptionFailed => "개인정보 복호화에 실패했습니다",
            Self::UserNotFound => "토스 사용자를 찾을 수 없습니다",
            Self::UserInfoMismatch => "사용자 정보가 일치하지 않습니다",
            Self::UserUnavailable => "인증서를 사용할 수 없는 사용자입니다",
            Self::TxNotFound => "요청 정보를 찾을 수 없습니다",
            Self::TxNotCompleted => "인증이 완료되지 않았습니다",
            Self::TxExpired => "인증 요청이 만료되었습니다",
            Self::ResultReadLimitExceeded => "인증 결과 조회 횟수를 초과했습니다",
            Self::Internal => "일시적인 오류입니다",
            Self::Maintenance => "서비스 점검 중입니다",
        }
    }
}

/// A refusal (HTTP status, errorCode if any) as a neutral error. Toss's own
/// `reason` text is never carried (it is a piece of the answer's body, which
/// may echo what was sent, and errors reach logs): a known code's message is
/// ours ([`TossCode::reason`]); an unknown code is kept only as letters,
/// digits, `_` and `-`, at most 64 of them.
pub fn map_refusal(status: u16, code: Option<&str>) -> ProviderError {
    let known = code.and_then(TossCode::from_code);
    let code_text = code.map_or_else(|| "-".to_owned(), clip_code);
    let message = known.map(TossCode::reason).unwrap_or_default().to_owned();
    match known {
        Some(TossCode::InvalidToken) => ProviderError::Unauthorized { code: code_text },
        Some(TossCode::UserNotFound) => ProviderError::UnknownPerson,
        Some(TossCode::UserInfoMismatch) => ProviderError::PersonMismatch,
        Some(TossCode::UserUnavailable) => ProviderError::AccountUnusable,
        Some(TossCode::TxNotCompleted) => ProviderError::NotReady,
        Some(TossCode::TxExpired) => ProviderError::Expired,
        Some(TossCode::ResultReadLimitExceeded) => ProviderError::AlreadyUsed,
        Some(TossCode::Internal | TossCode::Maintenance) => ProviderError::Unavailable {
            code: code_text,
            retryable: true,
        },
        Some(
            TossCode::InvalidParameter
            | TossCode::InvalidSessionKey
            | TossCode::DecryptionFailed
            | TossCode::TxNotFound,
        ) => ProviderError::BadRequest {
            code: code_text,
            message,
        },
        None if status == 401 || status == 403 => ProviderError::Unauthorized { code: code_text },
        None if status >= 500 => ProviderError::Unavailable {
            code: format!("{code_text} (HTTP {status})"),
            retryable: status == 503 || status == 502,
        },
        None => ProviderError::BadRequest {
            code: code_text,
            message,
        },
    }
}

/// An `errorCode` as it may be logged: the code itself when it is 1 to 64
/// letters, digits, `_` and `-`; otherwise `invalid` (filtering characters
/// out would keep what they separated, e.g. the digits of a phone number).
pub fn clip_code(code: &str) -> String {
    let plain = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        code.to_owned()
    } else {
        "invalid".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_map() {
        for c in TossCode::ALL {
            assert_eq!(TossCode::from_code(c.code()), Some(c));
        }
        assert!(matches!(
            map_refusal(400, Some("DECRYPTION_FAILED")),
            ProviderError::BadRequest { ref code, .. } if code == "DECRYPTION_FAILED"
        ));
        assert!(matches!(
            map_refusal(400, Some("RESULT_READ_LIMIT_EXCEEDED")),
            ProviderError::AlreadyUsed
        ));
        assert!(matches!(
            map_refusal(401, None),
            ProviderError::Unauthorized { .. }
        ));
        assert!(matches!(
            map_refusal(418, Some("SOMETHING_NEW"), ),
            ProviderError::BadRequest { ref code, .. } if code == "SOMETHING_NEW"
        ));
        // Toss's words are never carried; a code that is not a plain code
        // is logged as `invalid`, nothing of it kept (filtering would keep
        // the digits of a phone number).
        for strange in [
            "NEW <i>홍길동</i>\n!",
            "X: 010-1234-5678",
            "",
            &"A".repeat(65),
        ] {
            assert!(
                matches!(
                    map_refusal(400, Some(strange)),
                    ProviderError::BadRequest { ref code, ref message }
                        if code == "invalid" && message.is_empty()
                ),
                "{strange:?}"
            );
        }
    }
}

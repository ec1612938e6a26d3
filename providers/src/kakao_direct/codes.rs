//! Kakao's E-codes: one table saying what each means, which HTTP status it comes
//! with, whether trying again helps, and which [`ProviderError`] it becomes.
//!
//! The adapter maps refusals through [`map_refusal`]; the simulator answers with
//! [`KakaoCode::http_status`] and [`KakaoCode::message`] from the same table, so the
//! two cannot drift apart. The codes and statuses follow Kakao's published
//! trouble-shooting table for 카카오톡 인증 서비스.
//!
//! Not here: HTTP, retries (the adapter decides), or per-operation meaning beyond
//! what the code says (e.g. E2003 on verify: see the adapter).

use crate::error::ProviderError;

/// An error code of the Kakao certification API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KakaoCode {
    /// E0001: internal error while processing; Kakao says: retry. HTTP 400.
    Internal,
    /// E0002: server maintenance. HTTP 503.
    Maintenance,
    /// E1001: a required parameter is missing, of the wrong type or out of range.
    BadParams,
    /// E1002: no permission for this API (product not contracted). HTTP 403.
    NoPermission,
    /// E1004: the REST API key header is missing or wrong. HTTP 401.
    BadKey,
    /// E1007: a product code called on the wrong domain (test vs production).
    WrongDomain,
    /// E2001: no Kakao account for this name, birthday and phone (or CI).
    NoSuchUser,
    /// E2002: the account's personal data differs from the request.
    PersonMismatch,
    /// E2003: no information for this tx_id.
    UnknownTx,
    /// E2004: the sign request was sent twice for one tx_id.
    RequestedTwice,
    /// E2005: the account is dormant, sanctioned, withdrawn or protected.
    AccountUnusable,
}

impl KakaoCode {
    pub const ALL: [KakaoCode; 11] = [
        Self::Internal,
        Self::Maintenance,
        Self::BadParams,
        Self::NoPermission,
        Self::BadKey,
        Self::WrongDomain,
        Self::NoSuchUser,
        Self::PersonMismatch,
        Self::UnknownTx,
        Self::RequestedTwice,
        Self::AccountUnusable,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Internal => "E0001",
            Self::Maintenance => "E0002",
            Self::BadParams => "E1001",
            Self::NoPermission => "E1002",
            Self::BadKey => "E1004",
            Self::WrongDomain => "E1007",
            Self::NoSuchUser => "E2001",
            Self::PersonMismatch => "E2002",
            Self::UnknownTx => "E2003",
            Self::RequestedTwice => "E2004",
            Self::AccountUnusable => "E2005",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The HTTP status Kakao answers the code with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Maintenance => 503,
            Self::NoPermission => 403,
            Self::BadKey => 401,
            Self::Internal
            | Self::BadParams
            | Self::WrongDomain
            | Self::NoSuchUser
            | Self::PersonMismatch
            | Self::UnknownTx
            | Self::RequestedTwice
            | Self::AccountUnusable => 400,
        }
    }

    /// Whether the same call, repeated soon, may succeed: only E0001 (on HTTP
    /// 400, unusually) is documented as "retry".
    pub fn retry_helps(self) -> bool {
        matches!(self, Self::Internal)
    }

    /// A short English message (the simulator's `error_message`).
    pub fn message(self) -> &'static str {
        match self {
            Self::Internal => "internal error; try again",
            Self::Maintenance => "the service is under maintenance",
            Self::BadParams => "a parameter is missing, malformed or out of range",
            Self::NoPermission => "no permission for this API",
            Self::BadKey => "the REST API key header is missing or invalid",
            Self::WrongDomain => "this product is not served on this domain",
            Self::NoSuchUser => "no Kakao account for this user",
            Self::PersonMismatch => "the personal data does not match the Kakao account",
            Self::UnknownTx => "no information for this tx_id",
            Self::RequestedTwice => "the sign request was already sent for this tx_id",
            Self::AccountUnusable => "the Kakao account is dormant, sanctioned or withdrawn",
        }
    }

    /// The provider-neutral meaning. E2003 and E2004 are refined by the adapter
    /// where the operation tells more.
    pub fn to_error(self, message: &str) -> ProviderError {
        let code = self.code().to_owned();
        match self {
            Self::Internal => ProviderError::Unavailable {
                code,
                retryable: true,
            },
            Self::Maintenance => ProviderError::Unavailable {
                code,
                retryable: true,
            },
            Self::BadKey | Self::NoPermission => ProviderError::Unauthorized { code },
            Self::NoSuchUser => ProviderError::UnknownPerson,
            Self::PersonMismatch => ProviderError::PersonMismatch,
            Self::AccountUnusable => ProviderError::AccountUnusable,
            Self::BadParams | Self::WrongDomain | Self::UnknownTx | Self::RequestedTwice => {
                ProviderError::BadRequest {
                    code,
                    message: clip(message),
                }
            }
        }
    }
}

/// Provider messages are kept short in errors (they are not personal data, but
/// they are not ours either).
fn clip(message: &str) -> String {
    message
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect()
}

/// Maps a refusal (HTTP status and, if the body had one, an E-code) to a
/// [`ProviderError`]. An unknown or missing code is judged by the status.
pub fn map_refusal(status: u16, code: Option<&str>, message: &str) -> ProviderError {
    if let Some(c) = code.and_then(KakaoCode::from_code) {
        return c.to_error(message);
    }
    let code = code.map_or_else(|| format!("http-{status}"), clip);
    match status {
        401 | 403 => ProviderError::Unauthorized { code },
        500..=599 => ProviderError::Unavailable {
            code,
            retryable: status != 501,
        },
        _ => ProviderError::Protocol(format!("HTTP {status} with unknown error code {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips_and_matches_the_published_statuses() {
        for c in KakaoCode::ALL {
            assert_eq!(KakaoCode::from_code(c.code()), Some(c));
        }
        assert_eq!(KakaoCode::Internal.http_status(), 400);
        assert!(KakaoCode::Internal.retry_helps());
        assert_eq!(KakaoCode::Maintenance.http_status(), 503);
        assert_eq!(KakaoCode::BadKey.http_status(), 401);
        assert!(!KakaoCode::BadKey.retry_helps());
        assert_eq!(KakaoCode::from_code("E9999"), None);
    }

    #[test]
    fn codes_map_to_neutral_errors() {
        assert!(matches!(
            map_refusal(400, Some("E2001"), ""),
            ProviderError::UnknownPerson
        ));
        assert!(matches!(
            map_refusal(400, Some("E2002"), ""),
            ProviderError::PersonMismatch
        ));
        assert!(matches!(
            map_refusal(400, Some("E2005"), ""),
            ProviderError::AccountUnusable
        ));
        assert!(matches!(
            map_refusal(401, Some("E1004"), ""),
            ProviderError::Unauthorized { .. }
        ));
        assert!(matches!(
            map_refusal(503, Some("E0002"), ""),
            ProviderError::Unavailable {
                retryable: true,
                ..
            }
        ));
        assert!(matches!(
            map_refusal(400, Some("E0001"), ""),
            ProviderError::Unavailable {
                retryable: true,
                ..
            }
        ));
        assert!(matches!(
            map_refusal(400, Some("E1001"), "x"),
            ProviderError::BadRequest { .. }
        ));
        assert!(matches!(
            map_refusal(502, None, ""),
            ProviderError::Unavailable { .. }
        ));
        assert!(matches!(
            map_refusal(400, None, ""),
            ProviderError::Protocol(_)
        ));
    }
}

//! How a provider family writes the signer's name into the certificate's CN,
//! and the one check that the CN names the person the provider reported.
//!
//! The name on the signed result comes over the API channel; the CN comes
//! from a certificate the provider's CA issued. They must agree **exactly**,
//! in the family's format: a prefix match (the old rule) let a certificate of
//! "홍길동2" or "홍길동 김철수" pass for "홍길동". So each family declares its
//! [`SignerCn`] once (a fixed rule in code, or a config field for providers
//! added by config), the CN is parsed once against it, and every caller — the
//! adapters and the offline receipt verifier — uses [`SignerCn::names`].
//!
//! Comparison is on the exact characters: no trimming, no whitespace folding,
//! no Unicode normalisation or case folding. A provider writes the CN and
//! the name from one record, so the honest case is byte-equal; look-alikes
//! (Hangul compatibility jamo, full-width or Cyrillic letters, NFD), extra
//! or missing spaces are refused, failing closed.
//!
//! Not here: which certificate is the signer's (CMS), whether the person is
//! the one asked ([`crate::person::Person::is`]), or remembering a signer's
//! certificate across requests.

use crate::person::Name;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

/// Most digits a [`SignerCn::NameParenDigits`] suffix may have.
const MAX_SUFFIX_DIGITS: usize = 40;

/// A family's CN format for a subscriber (signer) certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerCn {
    /// The CN is the name and nothing else (`홍길동`). What the broker's
    /// products (Kakao, Naver, PASS, Toss), Toss direct and Kakao direct
    /// issue: their subject carries the provider UID in `serialNumber`, not in
    /// the CN. The safe default for a provider added by config.
    #[default]
    Exact,
    /// The name, then `()`, then 1 to 40 ASCII digits (`홍길동()0011234567`):
    /// the accredited-certificate (공동인증서) form some banks still issue.
    NameParenDigits,
}

impl SignerCn {
    /// Whether `cn` is exactly `name` written in this format.
    pub fn names(self, name: &Name, cn: &str) -> bool {
        let Some(written) = self.name_part(cn) else {
            return false;
        };
        let want = name.expose();
        !want.is_empty()
            && written.len() == want.len()
            && bool::from(written.as_bytes().ct_eq(want.as_bytes()))
    }

    /// The name as this format writes it in `cn`, or `None` when `cn` is not
    /// in this format at all.
    fn name_part(self, cn: &str) -> Option<&str> {
        match self {
            Self::Exact => Some(cn),
            Self::NameParenDigits => {
                let name = cn.trim_end_matches(|c: char| c.is_ascii_digit());
                let digits = cn.len() - name.len();
                if digits == 0 || digits > MAX_SUFFIX_DIGITS {
                    return None;
                }
                name.strip_suffix("()")
            }
        }
    }

    /// The CN a certificate of this format carries for `name`; `serial` is the
    /// digit source for [`Self::NameParenDigits`] (digits kept, other bytes
    /// mapped to digits). For simulators and tests: a real CA writes its own.
    pub fn render(self, name: &str, serial: &str) -> String {
        match self {
            Self::Exact => name.to_owned(),
            Self::NameParenDigits => {
                let digits: String = serial
                    .bytes()
                    .map(|b| {
                        if b.is_ascii_digit() {
                            char::from(b)
                        } else {
                            char::from(b'0' + b % 10)
                        }
                    })
                    .take(MAX_SUFFIX_DIGITS)
                    .collect();
                let digits = if digits.is_empty() {
                    "0".into()
                } else {
                    digits
                };
                format!("{name}(){digits}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hong() -> Name {
        Name::parse("홍길동").unwrap()
    }

    /// Prefix attacks and near-misses every format must refuse.
    const NEVER: &[&str] = &[
        "",
        "홍길동2",
        "홍길동 김철수",
        "홍길동김철수",
        "홍길",
        "김철수",
        " 홍길동",
        "홍길동 ",
        "홍 길동",
        "홍길동\u{0}",
        "홍길동\u{200b}",
        // NFD: conjoining jamo that render as 홍길동.
        "\u{1112}\u{1169}\u{11bc}\u{1100}\u{1175}\u{11af}\u{1103}\u{1169}\u{11bc}",
        // Hangul compatibility jamo, full-width parentheses and digits.
        "ㅎㅗㅇ길동",
        "홍길동（）００１１",
        "홍길동()",
        "홍길동()12a",
        "홍길동()()0011",
        "홍길동2()0011",
        "홍길동 ()0011",
        "홍길동() 0011",
        "김철수()0011",
    ];

    #[test]
    fn exact_is_the_name_and_nothing_else() {
        assert!(SignerCn::Exact.names(&hong(), "홍길동"));
        for cn in NEVER.iter().chain(&["홍길동()0011", "홍길동 SIM123"]) {
            assert!(!SignerCn::Exact.names(&hong(), cn), "{cn:?}");
        }
        // Latin names: case and spacing are part of the name.
        let kim = Name::parse("Kim Minji").unwrap();
        assert!(SignerCn::Exact.names(&kim, "Kim Minji"));
        for cn in [
            "kim minji",
            "Kim  Minji",
            "KimMinji",
            "Kim Minji Lee",
            "Кim Minji",
        ] {
            assert!(!SignerCn::Exact.names(&kim, cn), "{cn:?}");
        }
    }

    #[test]
    fn name_paren_digits_takes_only_its_suffix() {
        let f = SignerCn::NameParenDigits;
        for cn in [
            "홍길동()0",
            "홍길동()0011",
            "홍길동()001104920200513111000123",
        ] {
            assert!(f.names(&hong(), cn), "{cn:?}");
        }
        for cn in NEVER.iter().chain(&["홍길동", "홍길동0011"]) {
            assert!(!f.names(&hong(), cn), "{cn:?}");
        }
        let too_long = format!("홍길동(){}", "1".repeat(MAX_SUFFIX_DIGITS + 1));
        assert!(!f.names(&hong(), &too_long));
        // A name that itself ends in "()digits" is not stripped twice.
        let odd = Name::parse("홍길동()12").unwrap();
        assert!(f.names(&odd, "홍길동()12()0011"));
        assert!(!f.names(&odd, "홍길동()0011"));
    }

    #[test]
    fn render_is_what_names_accepts() {
        for f in [SignerCn::Exact, SignerCn::NameParenDigits] {
            for serial in ["SIMABCDEF0123", "", "0011"] {
                assert!(f.names(&hong(), &f.render("홍길동", serial)), "{f:?}");
            }
        }
        assert_eq!(
            SignerCn::NameParenDigits.render("홍길동", "0011"),
            "홍길동()0011"
        );
    }

    #[test]
    fn config_names() {
        #[derive(Deserialize)]
        struct T {
            f: SignerCn,
        }
        let t: T = serde_json::from_str(r#"{"f": "name_paren_digits"}"#).unwrap();
        assert_eq!(t.f, SignerCn::NameParenDigits);
        assert!(serde_json::from_str::<T>(r#"{"f": "prefix"}"#).is_err());
        assert_eq!(SignerCn::default(), SignerCn::Exact);
    }
}

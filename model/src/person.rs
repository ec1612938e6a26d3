//! Personal data as types that cannot leak by accident.
//!
//! Names, birth dates, phone numbers and CIs are personal data; the CI is of the
//! highest sensitivity. Each is its own type: `Debug` prints a placeholder, there is
//! no `Display` (so `info!(%phone)` does not compile), no `PartialEq` (compare with
//! [`Name::same_as`] and friends, in constant time), and the value is reached only
//! through an explicit `expose()`. Parsing validates and normalises once, at the edge.
//!
//! Serialisation goes through [`serde_exposed`] on purpose, at the few places that
//! must persist or release the value (the store record, the released claims).

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

/// Why a personal field was refused; carries no part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersonFieldError {
    #[error("name must be 1 to 50 letters without control or invisible characters")]
    Name,
    #[error("birth date must be a real date as YYYY-MM-DD or YYYYMMDD, not in the future")]
    BirthDate,
    #[error("phone must be a Korean mobile number such as 010-1234-5678 or +82 10 1234 5678")]
    Phone,
    #[error("CI must be 88 characters of base64")]
    Ci,
    #[error("gender must be M or F")]
    Gender,
}

fn ct_same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

macro_rules! redacted_debug {
    ($t:ident) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), "(..)"))
            }
        }
    };
}

/// A person's name as the citizen typed it or the provider returned it.
#[derive(Clone)]
pub struct Name(String);
redacted_debug!(Name);

impl Name {
    /// The one rule for a name, whoever gives it (the citizen's form, any
    /// provider family's answer): trimmed, normalised to NFC, 1 to 50
    /// characters, and nothing invisible in it.
    ///
    /// Why NFC: `홍길동` can be written as three syllables or as eight
    /// conjoining jamo that look the same; names are compared (the citizen's
    /// with the provider's, the certificate's CN) and released in one form.
    /// Why no invisible characters: a name that renders like `홍길동` but
    /// holds a bidi override (U+202E), a zero-width space or joiner (U+200B,
    /// U+200D), a BOM (U+FEFF), an isolate (U+2066…) or a Hangul filler
    /// (U+3164, which renders as nothing) lets one person pass as another to
    /// whoever reads it — a site's operator, an audit log — so it is
    /// refused, not cleaned: the general categories Cc, Cf, Cs, Co and Cn
    /// (controls, format characters, private use, unassigned), line and
    /// paragraph separators, and the four Hangul fillers.
    pub fn parse(raw: &str) -> Result<Self, PersonFieldError> {
        use unicode_normalization::UnicodeNormalization as _;
        let v: String = raw.trim().nfc().collect();
        let n = v.chars().count();
        if n == 0 || n > 50 || v.chars().any(invisible) {
            return Err(PersonFieldError::Name);
        }
        Ok(Self(v))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Equal after trimming and ignoring inner spaces (providers differ there).
    /// For the name the citizen typed against the provider's; a certificate's
    /// CN is matched exactly instead ([`crate::signer_cn::SignerCn::names`]).
    pub fn same_as(&self, other: &Name) -> bool {
        let a: String = self.0.chars().filter(|c| !c.is_whitespace()).collect();
        let b: String = other.0.chars().filter(|c| !c.is_whitespace()).collect();
        ct_same(&a, &b)
    }
}

/// A character a name must not hold (see [`Name::parse`]).
fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory as _};
    c.general_category_group() == GeneralCategoryGroup::Other
        || matches!(
            c.general_category(),
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
        )
        // Hangul fillers: letters (Lo) by category, drawn as nothing.
        || matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
}

/// A calendar date of birth.
#[derive(Clone, Copy)]
pub struct BirthDate {
    year: u16,
    month: u8,
    day: u8,
}
redacted_debug!(BirthDate);

impl BirthDate {
    /// Accepts `YYYY-MM-DD`, `YYYYMMDD` and `YYYY.MM.DD`, not after today
    /// (UTC).
    pub fn parse(raw: &str) -> Result<Self, PersonFieldError> {
        Self::parse_on(raw, time::OffsetDateTime::now_utc().date())
    }

    /// [`BirthDate::parse`] as of `today`.
    fn parse_on(raw: &str, today: time::Date) -> Result<Self, PersonFieldError> {
        let digits: String = raw
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '.')
            .collect();
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PersonFieldError::BirthDate);
        }
        let num = |r: std::ops::Range<usize>| -> Result<u16, PersonFieldError> {
            digits
                .get(r)
                .and_then(|s| s.parse().ok())
                .ok_or(PersonFieldError::BirthDate)
        };
        let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let month_t =
            time::Month::try_from(u8::try_from(month).map_err(|_| PersonFieldError::BirthDate)?)
                .map_err(|_| PersonFieldError::BirthDate)?;
        let date = time::Date::from_calendar_date(
            i32::from(year),
            month_t,
            u8::try_from(day).map_err(|_| PersonFieldError::BirthDate)?,
        )
        .map_err(|_| PersonFieldError::BirthDate)?;
        if year < 1900 || date > today {
            return Err(PersonFieldError::BirthDate);
        }
        Ok(Self {
            year,
            month: month as u8,
            day: day as u8,
        })
    }
    /// What a citizen types on the identity form, as of `today`: what
    /// [`BirthDate::parse`] takes, with `/` or spaces between the parts too
    /// (`1990/01/31`, `1990 01 31`), and six digits (`900131`, the form of
    /// the resident registration number). The century rule for six digits:
    /// the 2000s unless that date is after `today`, then the 1900s (`150101`
    /// is 2015, `900131` is 1990). A person over 100 types eight digits.
    pub fn parse_typed(raw: &str, today: time::Date) -> Result<Self, PersonFieldError> {
        let t = raw.trim();
        if !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | '/' | ' '))
        {
            return Err(PersonFieldError::BirthDate);
        }
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        // Separators only between whole parts: `1990-01-31`, not `19-900131`.
        let parts: Vec<&str> = t
            .split(['-', '.', '/', ' '])
            .filter(|p| !p.is_empty())
            .collect();
        let shaped = match parts.as_slice() {
            [_] => true,
            [y, m, d] => (y.len() == 4 || y.len() == 2) && m.len() == 2 && d.len() == 2,
            _ => false,
        };
        if !shaped {
            return Err(PersonFieldError::BirthDate);
        }
        match digits.len() {
            8 => Self::parse_on(&digits, today),
            6 => Self::parse_on(&format!("20{digits}"), today)
                .or_else(|_| Self::parse_on(&format!("19{digits}"), today)),
            _ => Err(PersonFieldError::BirthDate),
        }
    }
    /// ISO 8601, `1990-01-31`: the form released to sites.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
    /// `19900131`: the form the broker APIs take.
    pub fn yyyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
    pub fn year(&self) -> u16 {
        self.year
    }
    /// `0131`: month and day, as barocert returns `receiverDay`.
    pub fn mmdd(&self) -> String {
        format!("{:02}{:02}", self.month, self.day)
    }
    pub fn same_as(&self, other: &BirthDate) -> bool {
        ct_same(&self.yyyymmdd(), &other.yyyymmdd())
    }
}

/// A Korean mobile number, held in E.164 (`+821012345678`).
#[derive(Clone)]
pub struct Phone(String);
redacted_debug!(Phone);

impl Phone {
    /// Accepts `010-1234-5678`, `01012345678`, `+82 10 1234 5678`, `+821012345678`.
    pub fn parse(raw: &str) -> Result<Self, PersonFieldError> {
        let t = raw.trim();
        if t.chars()
            .any(|c| !(c.is_ascii_digit() || c == '-' || c == ' ' || c == '+'))
        {
            return Err(PersonFieldError::Phone);
        }
        let plus = t.starts_with('+');
        if t.chars().skip(1).any(|c| c == '+') {
            return Err(PersonFieldError::Phone);
        }
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let national = if plus {
            match digits.strip_prefix("82") {
                Some(rest) if !rest.starts_with('0') => format!("0{rest}"),
                _ => return Err(PersonFieldError::Phone),
            }
        } else {
            digits
        };
        let ok_prefix = ["010", "011", "016", "017", "018", "019"]
            .iter()
            .any(|p| national.starts_with(p));
        if !ok_prefix || !(10..=11).contains(&national.len()) {
            return Err(PersonFieldError::Phone);
        }
        Ok(Self(format!(
            "+82{}",
            national.get(1..).unwrap_or_default()
        )))
    }
    /// E.164: the form released to sites as `phone_number`.
    pub fn e164(&self) -> &str {
        &self.0
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// `01012345678`: the form the broker APIs take.
    pub fn national(&self) -> String {
        format!("0{}", self.0.get(3..).unwrap_or_default())
    }
    pub fn same_as(&self, other: &Phone) -> bool {
        ct_same(&self.0, &other.0)
    }
}

/// 연계정보: the same for a person everywhere; released only to entitled sites.
#[derive(Clone)]
pub struct Ci(String);
redacted_debug!(Ci);

impl Ci {
    pub fn parse(raw: &str) -> Result<Self, PersonFieldError> {
        use base64::Engine as _;
        let v = raw.trim();
        if v.len() != 88 || base64::engine::general_purpose::STANDARD.decode(v).is_err() {
            return Err(PersonFieldError::Ci);
        }
        Ok(Self(v.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn same_as(&self, other: &Ci) -> bool {
        ct_same(&self.0, &other.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    /// Accepts barocert's `1`/`2`, `M`/`F`, `male`/`female`.
    pub fn parse(raw: &str) -> Result<Self, PersonFieldError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "m" | "male" | "1" | "3" => Ok(Self::Male),
            "f" | "female" | "2" | "4" => Ok(Self::Female),
            _ => Err(PersonFieldError::Gender),
        }
    }
    /// OIDC's `gender` values.
    pub fn as_oidc(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
        }
    }
}

/// Who the citizen says they are: what the gateway asks the provider to confirm.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub name: Name,
    pub birthdate: BirthDate,
    pub phone: Phone,
}

/// Who the provider says signed: only built from a verified provider result.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: Name,
    pub birthdate: BirthDate,
    pub phone: Phone,
    pub gender: Option<Gender>,
    pub ci: Ci,
}

impl Person {
    /// Whether this signer is the citizen who was asked (name, birth date, phone).
    pub fn is(&self, asked: &Citizen) -> bool {
        // Evaluate all three so timing does not tell which field differed.
        let a = self.name.same_as(&asked.name);
        let b = self.birthdate.same_as(&asked.birthdate);
        let c = self.phone.same_as(&asked.phone);
        a & b & c
    }
}

macro_rules! string_de {
    ($t:ident) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $t::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_de!(Name);
string_de!(Phone);
string_de!(Ci);
string_de!(BirthDate);
string_de!(Gender);

/// Explicit serialisation of personal values, for `#[serde(serialize_with = ...)]`
/// on the few records that must hold them (the transaction in the store).
pub mod serde_exposed {
    use serde::Serializer;

    /// A personal value that may be written out on purpose.
    pub trait Exposed {
        fn exposed(&self) -> String;
    }
    impl Exposed for super::Name {
        fn exposed(&self) -> String {
            self.0.clone()
        }
    }
    impl Exposed for super::Phone {
        fn exposed(&self) -> String {
            self.0.clone()
        }
    }
    impl Exposed for super::Ci {
        fn exposed(&self) -> String {
            self.0.clone()
        }
    }
    impl Exposed for super::BirthDate {
        fn exposed(&self) -> String {
            self.iso()
        }
    }
    impl Exposed for super::Gender {
        fn exposed(&self) -> String {
            self.as_oidc().to_owned()
        }
    }

    pub fn serialize<T: Exposed, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.exposed())
    }

    /// For `Option<T>` fields.
    pub fn option<T: Exposed, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&v.exposed()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_typed_birth_date_takes_every_spelling_and_six_digits_by_the_century_rule() {
        let today = time::Date::from_calendar_date(2026, time::Month::December, 4).unwrap();
        for (typed, iso) in [
            ("19900131", "1990-01-31"),
            ("1990-01-31", "1990-01-31"),
            ("1990.01.31", "1990-01-31"),
            ("1990/01/31", "1990-01-31"),
            ("1990 01 31", "1990-01-31"),
            (" 1990. 01. 31. ", "1990-01-31"),
            ("900131", "1990-01-31"),
            ("90-01-31", "1990-01-31"),
            ("90.01.31", "1990-01-31"),
            ("150101", "2015-01-01"),
            // Today is in the 2000s; tomorrow is not yet, so it is 1926.
            ("261204", "2026-12-04"),
            ("261205", "1926-12-05"),
            ("000229", "2000-02-29"),
            ("19000101", "1900-01-01"),
        ] {
            assert_eq!(
                BirthDate::parse_typed(typed, today).map(|d| d.iso()),
                Ok(iso.to_owned()),
                "{typed}"
            );
        }
        for bad in [
            "",
            "9001311",
            "1990131",
            "19-900131",
            "1990-0131",
            "900231",
            "19900231",
            "1990_01_31",
            "１９９００１３１",
            "20270101",
            "1990-01-31x",
            "18991231",
        ] {
            assert!(BirthDate::parse_typed(bad, today).is_err(), "{bad}");
        }
    }
    use super::*;

    #[test]
    fn phone_forms_normalise_to_e164() {
        for raw in [
            "010-1234-5678",
            "01012345678",
            "+82 10 1234 5678",
            "+821012345678",
        ] {
            assert_eq!(Phone::parse(raw).unwrap().e164(), "+821012345678", "{raw}");
        }
        assert_eq!(
            Phone::parse("010-1234-5678").unwrap().national(),
            "01012345678"
        );
        for bad in [
            "",
            "12345",
            "+1 415 555 0100",
            "010-1234-5678-9",
            "02-123-4567",
            "+8201012345678",
            "010+1234",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn birthdate_validates_calendar() {
        assert_eq!(BirthDate::parse("1990-02-28").unwrap().iso(), "1990-02-28");
        assert_eq!(BirthDate::parse("19900228").unwrap().yyyymmdd(), "19900228");
        for bad in [
            "1990-02-30",
            "1990-13-01",
            "2990-01-01",
            "1890-01-01",
            "abc",
            "1990-1-1",
        ] {
            assert!(BirthDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_values() {
        let n = Name::parse("홍길동").unwrap();
        assert_eq!(format!("{n:?}"), "Name(..)");
        let p = Phone::parse("01012345678").unwrap();
        assert!(!format!("{p:?}").contains("1234"));
    }

    #[test]
    fn names_compare_ignoring_spaces() {
        assert!(Name::parse("홍 길동")
            .unwrap()
            .same_as(&Name::parse("홍길동").unwrap()));
        assert!(!Name::parse("홍길동")
            .unwrap()
            .same_as(&Name::parse("홍길순").unwrap()));
        assert!(Name::parse("").is_err());
        assert!(Name::parse("a\u{0}b").is_err());
    }

    #[test]
    fn names_are_nfc_and_hold_nothing_invisible() {
        // Eight conjoining jamo that render as 홍길동: the same name, one form.
        let jamo = "\u{1112}\u{1169}\u{11BC}\u{1100}\u{1175}\u{11AF}\u{1103}\u{1169}\u{11BC}";
        let n = Name::parse(jamo).unwrap();
        assert_eq!(n.expose(), "홍길동");
        assert!(n.same_as(&Name::parse("홍길동").unwrap()));
        assert_eq!(Name::parse("Jose\u{301}").unwrap().expose(), "Jos\u{e9}");
        for ok in [
            "홍길동",
            "홍 길동",
            "Kim Min-jun",
            "O'Brien",
            "金正恩",
            "Nguyễn",
        ] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
        // Format (Cf), controls (Cc), private use, unassigned, separators,
        // Hangul fillers: refused wherever they are, not cleaned.
        for c in [
            '\u{202E}',
            '\u{202A}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{061C}',
            '\u{180E}',
            '\u{FFF9}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{1D173}',
            '\u{0007}',
            '\u{001B}',
            '\u{0085}',
            '\u{009B}',
            '\u{E000}',
            '\u{F0000}',
            '\u{0378}',
            '\u{2028}',
            '\u{2029}',
            '\u{115F}',
            '\u{1160}',
            '\u{3164}',
            '\u{FFA0}',
        ] {
            // (Whitespace at either end is trimmed, as any name's is.)
            let ends = if c.is_whitespace() { 0 } else { 2 };
            let places = [
                format!("홍길{c}동"),
                format!("홍길동{c}"),
                format!("{c}홍길동"),
            ];
            for raw in places.iter().take(1 + ends) {
                assert_eq!(
                    Name::parse(raw).map(|_| ()),
                    Err(PersonFieldError::Name),
                    "U+{:04X}",
                    u32::from(c)
                );
            }
        }
    }
}

//! Attribute profiles: the names (and, where a standard fixes it, the value
//! syntax) under which a released claim reaches an SP.
//!
//! An SP maps attributes by `Name` and `NameFormat`, and a federation fixes
//! which names its SPs expect: the gateway's own (`munjigi`, what it always
//! sent), the directory standards' OIDs with SCHAC for what eduPerson lacks
//! (`oid`, as eduGAIN-style federations expect), or short names with the
//! `basic` NameFormat (SPs configured by hand, SimpleSAMLphp's default).
//! The table is the one documented in the README and the one the maps in
//! `deploy/examples/` are checked against. `pairwise-id` is not here: it is
//! a profile of its own and the same in every one.
//!
//! Not here: which claims are released (the site's scope and the claim
//! policy decide), nor invented splits (no `givenName`/`sn` from one name).

use std::fmt;

pub const NAMEFORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
pub const NAMEFORMAT_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

/// Which names a site's SP expects (`[sites.X.saml] attribute_profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttributeProfile {
    /// The gateway's own names (uri NameFormat): the default.
    #[default]
    Munjigi,
    /// Standard OIDs where one exists, SCHAC's value syntax (uri NameFormat).
    Oid,
    /// Short names, NameFormat basic.
    Basic,
}

/// One released claim's names: `(Name, FriendlyName)` per uri profile and
/// the basic name.
struct Row {
    claim: &'static str,
    munjigi: (&'static str, &'static str),
    oid: (&'static str, &'static str),
    basic: &'static str,
}

/// Every claim the gateway releases as an attribute, in release order.
const ROWS: &[Row] = &[
    Row {
        claim: "sub",
        munjigi: ("urn:munjigi:attribute:sub", "sub"),
        oid: ("urn:munjigi:attribute:sub", "sub"),
        basic: "sub",
    },
    Row {
        claim: "name",
        munjigi: ("urn:oid:2.16.840.1.113730.3.1.241", "displayName"),
        oid: ("urn:oid:2.16.840.1.113730.3.1.241", "displayName"),
        basic: "displayName",
    },
    Row {
        claim: "birthdate",
        // RFC 3739's dateOfBirth; SCHAC's is YYYYMMDD.
        munjigi: ("urn:oid:1.3.6.1.5.5.7.9.1", "dateOfBirth"),
        oid: ("urn:oid:1.3.6.1.4.1.25178.1.2.3", "schacDateOfBirth"),
        basic: "dateOfBirth",
    },
    Row {
        claim: "gender",
        // RFC 3739's gender; SCHAC's is ISO/IEC 5218 (1 male, 2 female).
        munjigi: ("urn:oid:1.3.6.1.5.5.7.9.3", "gender"),
        oid: ("urn:oid:1.3.6.1.4.1.25178.1.2.2", "schacGender"),
        basic: "gender",
    },
    Row {
        claim: "phone_number",
        // Every provider verifies a mobile number: RFC 4524's `mobile`.
        munjigi: ("urn:oid:2.5.4.20", "telephoneNumber"),
        oid: ("urn:oid:0.9.2342.19200300.100.1.41", "mobile"),
        basic: "telephoneNumber",
    },
    Row {
        claim: "ci",
        munjigi: ("urn:munjigi:attribute:ci", "ci"),
        oid: ("urn:munjigi:attribute:ci", "ci"),
        basic: "ci",
    },
    Row {
        claim: "provider",
        munjigi: ("urn:munjigi:attribute:provider", "provider"),
        oid: ("urn:munjigi:attribute:provider", "provider"),
        basic: "provider",
    },
    Row {
        claim: "amr",
        munjigi: ("urn:munjigi:attribute:amr", "amr"),
        oid: ("urn:munjigi:attribute:amr", "amr"),
        basic: "amr",
    },
];

/// How one claim is sent under a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Naming {
    pub claim: &'static str,
    pub name: &'static str,
    pub name_format: &'static str,
    pub friendly_name: &'static str,
}

impl AttributeProfile {
    pub const ALL: [Self; 3] = [Self::Munjigi, Self::Oid, Self::Basic];

    /// The config spelling, or None for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Munjigi => "munjigi",
            Self::Oid => "oid",
            Self::Basic => "basic",
        }
    }

    /// Every released claim's naming, in release order.
    pub fn namings(self) -> impl Iterator<Item = Naming> {
        ROWS.iter().map(move |r| {
            let (name, name_format, friendly_name) = match self {
                Self::Munjigi => (r.munjigi.0, NAMEFORMAT_URI, r.munjigi.1),
                Self::Oid => (r.oid.0, NAMEFORMAT_URI, r.oid.1),
                Self::Basic => (r.basic, NAMEFORMAT_BASIC, r.basic),
            };
            Naming {
                claim: r.claim,
                name,
                name_format,
                friendly_name,
            }
        })
    }

    /// A claim's value as this profile's attribute syntax wants it; None
    /// drops a value the syntax cannot say.
    pub fn value(self, claim: &str, v: &str) -> Option<String> {
        if self != Self::Oid {
            return Some(v.to_owned());
        }
        match claim {
            // SCHAC: YYYYMMDD (the claim is ISO 8601's YYYY-MM-DD).
            "birthdate" => {
                let digits: String = v.chars().filter(|c| *c != '-').collect();
                (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
            }
            // SCHAC: ISO/IEC 5218.
            "gender" => match v {
                "male" => Some("1".to_owned()),
                "female" => Some("2".to_owned()),
                _ => None,
            },
            _ => Some(v.to_owned()),
        }
    }
}

impl fmt::Display for AttributeProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_unknown_is_none() {
        for p in AttributeProfile::ALL {
            assert_eq!(AttributeProfile::parse(p.as_str()), Some(p));
        }
        assert_eq!(AttributeProfile::parse("OID"), None);
        assert_eq!(AttributeProfile::parse("saml2"), None);
        assert_eq!(AttributeProfile::default(), AttributeProfile::Munjigi);
    }

    #[test]
    fn names_are_unique_within_each_profile() {
        for p in AttributeProfile::ALL {
            let names: Vec<_> = p.namings().map(|n| n.name).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(names.len(), unique.len(), "{p}: {names:?}");
            assert!(!names.contains(&super::super::response::PAIRWISE_ID));
        }
    }

    #[test]
    fn oid_profile_names_the_directory_standards() {
        let by = |p: AttributeProfile, c: &str| p.namings().find(|n| n.claim == c).unwrap();
        let oid = |c| by(AttributeProfile::Oid, c);
        assert_eq!(oid("name").name, "urn:oid:2.16.840.1.113730.3.1.241");
        assert_eq!(oid("birthdate").name, "urn:oid:1.3.6.1.4.1.25178.1.2.3");
        assert_eq!(
            oid("phone_number").name,
            "urn:oid:0.9.2342.19200300.100.1.41"
        );
        assert!(AttributeProfile::Oid
            .namings()
            .all(|n| n.name_format == NAMEFORMAT_URI));
        let basic = |c| by(AttributeProfile::Basic, c);
        assert_eq!(basic("birthdate").name, "dateOfBirth");
        assert!(AttributeProfile::Basic
            .namings()
            .all(|n| n.name_format == NAMEFORMAT_BASIC && !n.name.contains(':')));
    }

    #[test]
    fn oid_values_follow_schac_syntax_and_others_pass_through() {
        let oid = AttributeProfile::Oid;
        assert_eq!(
            oid.value("birthdate", "1990-01-31").as_deref(),
            Some("19900131")
        );
        assert_eq!(oid.value("birthdate", "1990-1-31"), None);
        assert_eq!(oid.value("gender", "male").as_deref(), Some("1"));
        assert_eq!(oid.value("gender", "female").as_deref(), Some("2"));
        assert_eq!(oid.value("gender", "other"), None);
        assert_eq!(
            oid.value("phone_number", "+821012345678").as_deref(),
            Some("+821012345678")
        );
        for p in [AttributeProfile::Munjigi, AttributeProfile::Basic] {
            assert_eq!(
                p.value("birthdate", "1990-01-31").as_deref(),
                Some("1990-01-31")
            );
            assert_eq!(p.value("gender", "male").as_deref(), Some("male"));
        }
    }

    /// The maps shipped for SPs name every attribute released under the
    /// profiles they cover (the Shibboleth one is also run against the real
    /// SP in tests/tests/shibboleth.rs).
    #[test]
    fn shipped_sp_attribute_maps_cover_every_released_name() {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples");
        let read = |f: &str| std::fs::read_to_string(examples.join(f)).unwrap();
        let shibboleth = read("shibboleth-attribute-map.xml");
        let simplesamlphp = read("simplesamlphp-attributemap.php");
        for p in [AttributeProfile::Munjigi, AttributeProfile::Oid] {
            for n in p.namings() {
                assert!(
                    shibboleth.contains(&format!("<Attribute name=\"{}\" id=", n.name)),
                    "{p}: {} missing from the Shibboleth map",
                    n.name
                );
                assert!(
                    simplesamlphp.contains(&format!("'{}' => '", n.name)),
                    "{p}: {} missing from the SimpleSAMLphp map",
                    n.name
                );
            }
        }
        // pairwise-id: in Shibboleth's stock map already; SimpleSAMLphp's has it.
        assert!(simplesamlphp.contains(&format!(
            "'{}' => 'pairwise-id'",
            super::super::response::PAIRWISE_ID
        )));
        assert!(simplesamlphp.contains("$attributemap = ["));
    }
}

//! The OIDC `scope` parameter, parsed once into the flags claim release reads.
//!
//! Understood: `openid` (required), `profile` (name, birth date, gender), `phone`
//! (phone number) and `ci` (연계정보, released only to entitled sites). Anything else
//! is dropped, as OIDC Core §3.1.2.1 says unknown scope values SHOULD be ignored; so
//! the normalised string echoed to the site and stored with the login holds only
//! values we act on. Not here: deciding whether a site may have a scope (see
//! [`crate::release`]).

use crate::Denied;

/// The scopes of one request, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    profile: bool,
    phone: bool,
    ci: bool,
    /// Known scopes in canonical order (`openid profile phone ci`), space-separated.
    normalised: String,
}

impl Scopes {
    /// Parses a space-separated `scope` value. Requires `openid`; unknown values are
    /// dropped, duplicates are harmless, order does not matter.
    pub fn parse(raw: &str) -> Result<Scopes, Denied> {
        let (mut openid, mut profile, mut phone, mut ci) = (false, false, false, false);
        // RFC 6749 §3.3 separates scope tokens with single spaces; any ASCII
        // whitespace is accepted, since no token may contain it.
        for token in raw.split_ascii_whitespace() {
            match token {
                "openid" => openid = true,
                "profile" => profile = true,
                "phone" => phone = true,
                "ci" => ci = true,
                _ => {}
            }
        }
        if !openid {
            return Err(Denied::NoOpenidScope);
        }
        let mut normalised = String::from("openid");
        for (on, name) in [(profile, "profile"), (phone, "phone"), (ci, "ci")] {
            if on {
                normalised.push(' ');
                normalised.push_str(name);
            }
        }
        Ok(Scopes {
            profile,
            phone,
            ci,
            normalised,
        })
    }

    /// The normalised scope string (`openid profile phone ci`, known values only).
    pub fn as_str(&self) -> String {
        self.normalised.clone()
    }

    /// Always true: a parsed [`Scopes`] has `openid`.
    pub fn has_openid(&self) -> bool {
        true
    }

    pub fn has_profile(&self) -> bool {
        self.profile
    }

    pub fn has_phone(&self) -> bool {
        self.phone
    }

    /// Whether `ci` was asked for; release still needs the site's entitlement.
    pub fn has_ci(&self) -> bool {
        self.ci
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openid_is_required() {
        assert_eq!(Scopes::parse(""), Err(Denied::NoOpenidScope));
        assert_eq!(Scopes::parse("profile phone"), Err(Denied::NoOpenidScope));
        assert_eq!(Scopes::parse("OpenID profile"), Err(Denied::NoOpenidScope));
        assert_eq!(Scopes::parse("openid2"), Err(Denied::NoOpenidScope));
    }

    #[test]
    fn openid_alone() {
        let s = Scopes::parse("openid").unwrap();
        assert!(s.has_openid());
        assert!(!s.has_profile() && !s.has_phone() && !s.has_ci());
        assert_eq!(s.as_str(), "openid");
    }

    #[test]
    fn known_scopes_set_flags_in_any_order() {
        let s = Scopes::parse("ci phone openid profile").unwrap();
        assert!(s.has_profile() && s.has_phone() && s.has_ci());
        assert_eq!(s.as_str(), "openid profile phone ci");
    }

    #[test]
    fn unknown_scopes_are_dropped() {
        let s = Scopes::parse("openid email address offline_access phone x<y>").unwrap();
        assert!(s.has_phone() && !s.has_profile() && !s.has_ci());
        assert_eq!(s.as_str(), "openid phone");
    }

    #[test]
    fn duplicates_and_extra_whitespace_are_harmless() {
        let s = Scopes::parse("  openid\tprofile  openid profile\n").unwrap();
        assert_eq!(s.as_str(), "openid profile");
        assert_eq!(s, Scopes::parse("profile openid").unwrap());
    }

    #[test]
    fn normalised_string_parses_to_the_same_scopes() {
        for raw in [
            "openid",
            "openid ci",
            "phone openid",
            "profile ci phone openid",
        ] {
            let s = Scopes::parse(raw).unwrap();
            assert_eq!(Scopes::parse(&s.as_str()).unwrap(), s, "{raw}");
        }
    }
}

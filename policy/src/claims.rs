//! Claim release: what a site learns about the citizen after a login.
//!
//! One function, [`release`], decides it from the site's policy, the request's
//! scopes and the verified assertion; every front protocol (OIDC ID token and
//! userinfo, SAML attributes, proxy headers) projects from the [`Claims`] it returns,
//! so no protocol can release more than the policy allows. Not here: the pairwise
//! `sub` (derived by the gateway, passed in), token lifetimes, signing.

use crate::{Denied, Scopes, SitePolicy};
use munjigi_model::{Assertion, Level};
use serde::{Deserialize, Serialize};

/// The claims released to one site for one login, with OIDC names.
///
/// Holds personal values as plain strings because it is the release itself; its
/// `Debug` still prints only which personal claims are present, never their values.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// Pairwise subject: stable per (site, person).
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ISO 8601, `1990-01-31`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// `female` or `male`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// E.164, `+821012345678`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// True whenever `phone_number` is released: the provider vouched for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// 연계정보, only for entitled sites that asked for scope `ci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
    /// Id of the provider the citizen used.
    pub provider: String,
    /// The assurance level achieved, as an `acr` URI ([`Level::acr`]).
    pub acr: String,
    pub amr: Vec<String>,
    /// Unix seconds of the citizen's approval.
    pub auth_time: u64,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| if v.is_some() { "Some(..)" } else { "None" };
        f.debug_struct("Claims")
            .field("sub", &self.sub)
            .field("name", &shown(&self.name))
            .field("birthdate", &shown(&self.birthdate))
            .field("gender", &shown(&self.gender))
            .field("phone_number", &shown(&self.phone_number))
            .field("phone_number_verified", &self.phone_number_verified)
            .field("ci", &shown(&self.ci))
            .field("provider", &self.provider)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .field("auth_time", &self.auth_time)
            .finish()
    }
}

/// Releases the claims a site may have from a verified assertion.
///
/// Always: `sub`, `provider`, `acr` (the level the provider achieved, which is
/// never below what was required), `amr`, `auth_time`. Scope `profile` adds `name`,
/// `birthdate` and `gender` (when the provider gave one); `phone` adds
/// `phone_number` with `phone_number_verified = true`; `ci` adds the CI only when
/// the site is entitled to it, and is silently not released otherwise.
///
/// Refuses a provider outside the site's allow list ([`Denied::ProviderNotAllowed`])
/// and an assertion below `required` or the site's `min_level`, whichever is
/// higher ([`Denied::LevelTooLow`]).
pub fn release(
    site: &SitePolicy,
    a: &Assertion,
    required: Level,
    scopes: &Scopes,
    sub: String,
) -> Result<Claims, Denied> {
    if !site.lists(&a.provider) {
        return Err(Denied::ProviderNotAllowed);
    }
    let required = required.max(site.min_level);
    if a.level < required {
        return Err(Denied::LevelTooLow {
            required,
            achieved: a.level,
        });
    }
    let person = &a.person;
    let profile = scopes.has_profile();
    // A number the result does not prove is not released at all (a SAML
    // attribute has no "verified" beside it).
    let phone = scopes.has_phone() && a.evidence.phone_proven();
    let ci = scopes.has_ci() && site.ci_entitled;
    Ok(Claims {
        sub,
        name: profile.then(|| person.name.expose().to_owned()),
        birthdate: profile.then(|| person.birthdate.iso()),
        gender: person
            .gender
            .filter(|_| profile)
            .map(|g| g.as_oidc().to_owned()),
        phone_number: phone.then(|| person.phone.e164().to_owned()),
        phone_number_verified: phone.then_some(true),
        ci: ci.then(|| person.ci.expose().to_owned()),
        provider: a.provider.as_str().to_owned(),
        acr: a.level.acr().to_owned(),
        amr: a.amr.clone(),
        auth_time: a.auth_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use munjigi_model::{BirthDate, Ci, Evidence, Gender, Name, Person, Phone, ProviderId};

    fn ci_value() -> String {
        format!("{}==", "Q".repeat(86))
    }

    fn assertion(provider: &str, level: Level, gender: Option<Gender>) -> Assertion {
        Assertion {
            txn: "txn-1".to_owned(),
            provider: ProviderId::new(provider),
            person: Person {
                name: Name::parse("홍길동").unwrap(),
                birthdate: BirthDate::parse("1990-01-31").unwrap(),
                phone: Phone::parse("010-1234-5678").unwrap(),
                gender,
                ci: Ci::parse(&ci_value()).unwrap(),
            },
            level,
            amr: vec!["pin".to_owned()],
            auth_time: 1_700_000_000,
            evidence: Evidence::Cms(munjigi_model::CmsEvidence {
                signed_data: vec![0x30, 0x00],
                signing_time: 1_700_000_000,
                signer_issuer: "CN=Test CA".to_owned(),
                signer_serial: "01".to_owned(),
                signer_cn: munjigi_model::SignerCn::Exact,
            }),
        }
    }

    fn site(allowed: &[&str], min_level: Level, ci_entitled: bool) -> SitePolicy {
        SitePolicy {
            allowed_providers: allowed.iter().map(|p| ProviderId::new(*p)).collect(),
            min_level,
            ci_entitled,
        }
    }

    fn scopes(raw: &str) -> Scopes {
        Scopes::parse(raw).unwrap()
    }

    #[test]
    fn openid_only_releases_the_base_claims() {
        let a = assertion("kakao", Level::Substantial, Some(Gender::Female));
        let s = site(&[], Level::Low, true);
        let c = release(&s, &a, Level::Low, &scopes("openid"), "sub-1".into()).unwrap();
        assert_eq!(
            c,
            Claims {
                sub: "sub-1".into(),
                name: None,
                birthdate: None,
                gender: None,
                phone_number: None,
                phone_number_verified: None,
                ci: None,
                provider: "kakao".into(),
                acr: Level::Substantial.acr().into(),
                amr: vec!["pin".into()],
                auth_time: 1_700_000_000,
            }
        );
    }

    #[test]
    fn profile_releases_name_birthdate_gender() {
        let a = assertion("kakao", Level::Substantial, Some(Gender::Male));
        let s = site(&[], Level::Low, false);
        let c = release(&s, &a, Level::Low, &scopes("openid profile"), "s".into()).unwrap();
        assert_eq!(c.name.as_deref(), Some("홍길동"));
        assert_eq!(c.birthdate.as_deref(), Some("1990-01-31"));
        assert_eq!(c.gender.as_deref(), Some("male"));
        assert_eq!(c.phone_number, None);
        assert_eq!(c.phone_number_verified, None);
    }

    #[test]
    fn profile_without_provider_gender_omits_gender() {
        let a = assertion("kakao", Level::Substantial, None);
        let s = site(&[], Level::Low, false);
        let c = release(&s, &a, Level::Low, &scopes("openid profile"), "s".into()).unwrap();
        assert!(c.name.is_some());
        assert_eq!(c.gender, None);
    }

    #[test]
    fn phone_releases_verified_e164() {
        let a = assertion("kakao", Level::Substantial, Some(Gender::Male));
        let s = site(&[], Level::Low, false);
        let c = release(&s, &a, Level::Low, &scopes("openid phone"), "s".into()).unwrap();
        assert_eq!(c.phone_number.as_deref(), Some("+821012345678"));
        assert_eq!(c.phone_number_verified, Some(true));
        assert_eq!((c.name, c.birthdate, c.gender), (None, None, None));
    }

    #[test]
    fn a_phone_the_result_does_not_prove_is_not_released() {
        let presented = |proven: bool| Assertion {
            evidence: Evidence::Presentation(munjigi_model::PresentationEvidence {
                presentation: b"{}".to_vec(),
                presented_at: 1_700_000_000,
                holder: "did:kr:mobileid:h".to_owned(),
                credential: "mdl".to_owned(),
                phone_proven: proven,
            }),
            ..assertion("mobile-id", Level::High, None)
        };
        let s = site(&[], Level::Low, false);
        let all = scopes("openid profile phone");
        let c = release(&s, &presented(false), Level::Low, &all, "s".into()).unwrap();
        assert_eq!((c.phone_number, c.phone_number_verified), (None, None));
        assert!(c.name.is_some() && c.birthdate.is_some());
        let c = release(&s, &presented(true), Level::Low, &all, "s".into()).unwrap();
        assert_eq!(c.phone_number.as_deref(), Some("+821012345678"));
        assert_eq!(c.phone_number_verified, Some(true));
    }

    #[test]
    fn ci_needs_both_scope_and_entitlement() {
        let a = assertion("kakao", Level::Substantial, None);
        let all = scopes("openid profile phone ci");
        // Same assertion, same scopes: the entitlement alone decides.
        let entitled = site(&[], Level::Low, true);
        let c = release(&entitled, &a, Level::Low, &all, "s".into()).unwrap();
        assert_eq!(c.ci, Some(ci_value()));
        let not_entitled = site(&[], Level::Low, false);
        let c = release(&not_entitled, &a, Level::Low, &all, "s".into()).unwrap();
        assert_eq!(c.ci, None);
        assert!(c.name.is_some() && c.phone_number.is_some());
        // Entitled, but the request did not ask.
        let c = release(
            &entitled,
            &a,
            Level::Low,
            &scopes("openid profile"),
            "s".into(),
        );
        assert_eq!(c.unwrap().ci, None);
    }

    #[test]
    fn level_too_low_is_refused() {
        let a = assertion("kakao", Level::Substantial, None);
        let s = site(&[], Level::Low, false);
        let r = release(&s, &a, Level::High, &scopes("openid"), "s".into());
        assert_eq!(
            r,
            Err(Denied::LevelTooLow {
                required: Level::High,
                achieved: Level::Substantial
            })
        );
    }

    #[test]
    fn site_minimum_applies_even_if_caller_asks_less() {
        let a = assertion("kakao", Level::Substantial, None);
        let s = site(&[], Level::High, false);
        let r = release(&s, &a, Level::Low, &scopes("openid"), "s".into());
        assert_eq!(
            r,
            Err(Denied::LevelTooLow {
                required: Level::High,
                achieved: Level::Substantial
            })
        );
    }

    #[test]
    fn acr_is_what_was_achieved_not_what_was_asked() {
        let a = assertion("kakao", Level::High, None);
        let s = site(&[], Level::Low, false);
        let c = release(&s, &a, Level::Substantial, &scopes("openid"), "s".into()).unwrap();
        assert_eq!(c.acr, Level::High.acr());
    }

    #[test]
    fn provider_outside_allow_list_is_refused() {
        let a = assertion("toss", Level::High, None);
        let s = site(&["kakao", "naver"], Level::Low, false);
        let r = release(&s, &a, Level::Low, &scopes("openid"), "s".into());
        assert_eq!(r, Err(Denied::ProviderNotAllowed));
        let s = site(&["kakao", "toss"], Level::Low, false);
        assert!(release(&s, &a, Level::Low, &scopes("openid"), "s".into()).is_ok());
    }

    #[test]
    fn serialisation_skips_absent_claims() {
        let a = assertion("kakao", Level::Substantial, None);
        let s = site(&[], Level::Low, false);
        let c = release(&s, &a, Level::Low, &scopes("openid phone"), "s".into()).unwrap();
        let json = serde_json::to_value(&c).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for absent in ["name", "birthdate", "gender", "ci"] {
            assert!(!keys.contains(&absent), "{absent} in {keys:?}");
        }
        assert_eq!(json["phone_number_verified"], serde_json::json!(true));
        let back: Claims = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn debug_does_not_print_personal_values() {
        let a = assertion("kakao", Level::Substantial, Some(Gender::Female));
        let s = site(&[], Level::Low, true);
        let all = scopes("openid profile phone ci");
        let c = release(&s, &a, Level::Low, &all, "s".into()).unwrap();
        let dbg = format!("{c:?}");
        for secret in ["홍길동", "1990", "+8210", "QQQQ", "female"] {
            assert!(!dbg.contains(secret), "{secret} in {dbg}");
        }
        assert!(dbg.contains("kakao"));
    }
}

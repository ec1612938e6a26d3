//! Who the simulated citizens are: resolving a request to a person and a
//! scenario, their deterministic CI, their subscriber certificates, and the CMS
//! result their app would produce (honest or tampered, per scenario).
//!
//! Not here: HTTP, receipt state, the broker's access rules.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;

use super::state::{Signed, SimToken};
use super::{Scenario, Simulator, UnknownPeople};
use crate::cms;
use crate::testpki::{ProviderPki, Subscriber};
use munjigi_providers::barocert::codes::BrokerCode;
use munjigi_providers::barocert::{crypto, ApiKind, BarocertProduct, TokenType};
use munjigi_providers::person::{BirthDate, Gender, Name, Phone};
use munjigi_providers::signer_cn::SignerCn;

/// The simulator's fixed CI key: the same person gets the same CI in every run.
const CI_KEY: &[u8] = b"munjigi-simulator-ci-key-v1";
/// The key deriving provider UIDs from phone numbers.
const UID_KEY: &[u8] = b"munjigi-simulator-uid-key-v1";

/// A person as the simulated provider knows them.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub name: Name,
    pub birthdate: BirthDate,
    pub phone: Phone,
    pub gender: Gender,
}

/// The CI the simulated providers give the person with these details (for
/// tests that must make sure it appears nowhere it should not).
pub fn ci_of(name: &str, birthdate: &str, phone: &str) -> Option<String> {
    Subject {
        name: Name::parse(name).ok()?,
        birthdate: BirthDate::parse(birthdate).ok()?,
        phone: Phone::parse(phone).ok()?,
        gender: Gender::Female,
    }
    .ci()
    .ok()
}

impl Subject {
    /// 88-character base64 CI: HMAC-SHA512 over name|birthdate|phone. The person
    /// alone decides it, never the product: the same CI through every provider.
    pub fn ci(&self) -> Result<String, BrokerCode> {
        let mac = crypto::hmac_sha512(CI_KEY, self.fingerprint().as_bytes())
            .map_err(|_| BrokerCode::Internal)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(mac))
    }

    /// The Naver account's e-mail, derived from the UID (a reserved domain).
    pub fn email(&self) -> Result<String, BrokerCode> {
        Ok(format!(
            "{}@naver.sim.invalid",
            self.uid()?.to_ascii_lowercase()
        ))
    }

    /// The name as a provider's answer writes it: the person's, with U+202E
    /// (a bidi override) after it under [`Scenario::InvisibleName`] (every
    /// family), which the gateway must refuse however the rest checks out.
    pub(crate) fn answered_name(&self, scenario: super::Scenario) -> String {
        if scenario == super::Scenario::InvisibleName {
            format!("{}\u{202E}", self.name.expose())
        } else {
            self.name.expose().to_owned()
        }
    }

    /// The subject CN of this person's certificate in format `form`.
    pub(crate) fn cn(&self, form: SignerCn) -> Result<String, BrokerCode> {
        Ok(form.render(self.name.expose(), &self.uid()?))
    }

    /// A provider UID for the certificate subject (not the CI).
    pub(crate) fn uid(&self) -> Result<String, BrokerCode> {
        let mac = crypto::hmac_sha256(UID_KEY, self.phone.national().as_bytes())
            .map_err(|_| BrokerCode::Internal)?;
        let hexed = hex::encode_upper(mac);
        Ok(format!("SIM{}", hexed.get(..20).unwrap_or(&hexed)))
    }

    fn fingerprint(&self) -> String {
        let name: String = self
            .name
            .expose()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        format!(
            "{name}|{}|{}",
            self.birthdate.yyyymmdd(),
            self.phone.national()
        )
    }
}

/// Subscriber certificates per (PKI, person), issued on first use.
#[derive(Default)]
pub(crate) struct SubscriberCache {
    /// By PKI, person, CN format and generation (0 the first certificate,
    /// 1 its renewal).
    by_key: HashMap<(String, String, SignerCn, u8), Arc<Subscriber>>,
}

/// The names used for [`Scenario::WrongPerson`].
const OTHER_NAMES: [&str; 3] = ["김민준", "이서연", "박지호"];

fn derived_gender(phone: &Phone) -> Gender {
    let last = phone.national().bytes().last().unwrap_or(b'0');
    if last & 1 == 0 {
        Gender::Female
    } else {
        Gender::Male
    }
}

/// Everything needed to make one result outside the state lock.
pub(crate) struct SignJob {
    pub product: BarocertProduct,
    pub kind: ApiKind,
    pub scenario: Scenario,
    pub subject: Subject,
    pub tokens: Vec<SimToken>,
    /// When the request was made (a `signing_time_outside` result predates it).
    pub requested_at_secs: u64,
}

impl Simulator {
    /// The person a request names, and their scenario; or the refusal.
    pub(crate) fn resolve(
        &self,
        phone: &Phone,
        name: &Name,
        birthdate: &BirthDate,
    ) -> Result<(Subject, Scenario), BrokerCode> {
        // A scenario set through the control API wins over the configured one.
        let overridden = self.control.scenario_for(phone);
        match self.people.iter().find(|p| p.phone.same_as(phone)) {
            Some(p) => {
                let scenario = overridden.unwrap_or(p.scenario);
                match scenario {
                    Scenario::Unknown => return Err(BrokerCode::UnknownPerson),
                    Scenario::Dormant => return Err(BrokerCode::AccountDormant),
                    _ => {}
                }
                let name_ok = p.name.as_ref().is_none_or(|n| n.same_as(name));
                let birth_ok = p.birthdate.as_ref().is_none_or(|b| b.same_as(birthdate));
                if !(name_ok && birth_ok) {
                    return Err(BrokerCode::PersonMismatch);
                }
                Ok((
                    Subject {
                        name: p.name.clone().unwrap_or_else(|| name.clone()),
                        birthdate: p.birthdate.unwrap_or(*birthdate),
                        phone: phone.clone(),
                        gender: p.gender.unwrap_or_else(|| derived_gender(phone)),
                    },
                    scenario,
                ))
            }
            None => match (overridden, self.unknown_people) {
                (Some(Scenario::Unknown), _) => Err(BrokerCode::UnknownPerson),
                (Some(Scenario::Dormant), _) => Err(BrokerCode::AccountDormant),
                (Some(scenario), _) => Ok((
                    Subject {
                        name: name.clone(),
                        birthdate: *birthdate,
                        phone: phone.clone(),
                        gender: derived_gender(phone),
                    },
                    scenario,
                )),
                (None, UnknownPeople::Approve) => Ok((
                    Subject {
                        name: name.clone(),
                        birthdate: *birthdate,
                        phone: phone.clone(),
                        gender: derived_gender(phone),
                    },
                    Scenario::Approve,
                )),
                (None, UnknownPeople::Refuse) => Err(BrokerCode::UnknownPerson),
            },
        }
    }

    /// Who the result names: the asked person, or someone else for `WrongPerson`.
    pub(crate) fn result_subject(&self, asked: &Subject, scenario: Scenario) -> Subject {
        if scenario != Scenario::WrongPerson {
            return asked.clone();
        }
        let other = OTHER_NAMES
            .iter()
            .filter_map(|n| Name::parse(n).ok())
            .find(|n| !n.same_as(&asked.name))
            .unwrap_or_else(|| asked.name.clone());
        Subject {
            name: other,
            ..asked.clone()
        }
    }

    pub(crate) fn subscriber(
        &self,
        pki: &ProviderPki,
        who: &Subject,
        cn: SignerCn,
        generation: u8,
    ) -> Result<Arc<Subscriber>, BrokerCode> {
        let key = (pki.label().to_owned(), who.fingerprint(), cn, generation);
        if let Some(s) = self
            .subscribers
            .lock()
            .map_err(|_| BrokerCode::Internal)?
            .by_key
            .get(&key)
        {
            return Ok(Arc::clone(s));
        }
        // Key generation takes a moment: not under the lock. A race issues two
        // certificates for one person; the first stored wins.
        let issued = pki
            .issue_subscriber(&who.cn(cn)?, &who.uid()?, None)
            .map_err(|e| {
                tracing::error!(error = %e, "simulator could not issue a subscriber certificate");
                BrokerCode::Internal
            })?;
        let mut cache = self.subscribers.lock().map_err(|_| BrokerCode::Internal)?;
        Ok(Arc::clone(
            cache.by_key.entry(key).or_insert_with(|| Arc::new(issued)),
        ))
    }

    /// The CMS SignedData the citizen's app returns for each token, per scenario.
    pub(crate) fn sign_result(&self, job: &SignJob) -> Result<Signed, BrokerCode> {
        let pki = if job.scenario == Scenario::WrongChain {
            &self.rogue
        } else {
            self.pki(job.product).ok_or(BrokerCode::Internal)?
        };
        let crl = super::misbehave::crl_path(&self.control.pki_dir, job.product.name());
        // The broker's four products name the signer alone in the CN (the
        // simulator's own statement, not the adapter's rule read back).
        let signer = self.signer_for(pki, &crl, job.scenario, &job.subject, SignerCn::Exact)?;
        let last = job.tokens.len().saturating_sub(1);
        let elements = job
            .tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let spoil = job.scenario == Scenario::TamperContent
                    || (job.scenario == Scenario::MultiOneBad
                        && job.kind == ApiKind::MultiSign
                        && i == last);
                self.sign_token(job, pki, &signer, token, spoil)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Signed { elements })
    }

    /// One CMS over one token in the product's encoding for its type; `spoil`
    /// signs other content (a different text, or the digest with a bit flipped).
    fn sign_token(
        &self,
        job: &SignJob,
        pki: &ProviderPki,
        signer: &Subscriber,
        token: &SimToken,
        spoil: bool,
    ) -> Result<Vec<u8>, BrokerCode> {
        let failed = |e: cms::CmsError| {
            tracing::error!(error = %e, "simulator could not sign a result");
            BrokerCode::Internal
        };
        let mut content = token.content.clone();
        if spoil {
            match token.token_type {
                TokenType::Text => {
                    let r: [u8; 8] = crypto::random_bytes().map_err(|_| BrokerCode::Internal)?;
                    content = format!("tampered-{}", hex::encode(r)).into_bytes();
                }
                TokenType::Hash => {
                    if let Some(b) = content.last_mut() {
                        *b ^= 0x01;
                    }
                }
            }
        }
        let chain = [pki.ca().to_owned()];
        let (mut der, encoding) = match token.token_type {
            TokenType::Text => (
                cms::sign(&content, signer, &chain, cms::Encoding::DerAttached).map_err(failed)?,
                job.product.identity_encoding(),
            ),
            TokenType::Hash => {
                let encoding = job.product.hash_encoding();
                let der = if encoding.is_detached() {
                    let digest: [u8; 32] = content
                        .as_slice()
                        .try_into()
                        .map_err(|_| BrokerCode::Internal)?;
                    cms::sign_sha256_detached(&digest, signer, &chain, cms::Encoding::DerDetached)
                } else {
                    cms::sign(&content, signer, &chain, cms::Encoding::DerAttached)
                }
                .map_err(failed)?;
                (der, encoding)
            }
        };
        if job.scenario == Scenario::BadSignature {
            // The signature value is the last field of the last SignerInfo (no
            // unsigned attributes, DER): flipping the last byte breaks it and
            // nothing else. Done on the DER, before the product's encoding.
            if let Some(b) = der.last_mut() {
                *b ^= 0x01;
            }
        }
        if job.scenario == Scenario::SigningTimeOutside {
            der = super::misbehave::with_signing_time_before(&der, signer, job.requested_at_secs)?;
        }
        cms::reencode(&der, encoding).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(name: &str) -> Subject {
        Subject {
            name: Name::parse(name).unwrap(),
            birthdate: BirthDate::parse("19900131").unwrap(),
            phone: Phone::parse("010-1234-5678").unwrap(),
            gender: Gender::Male,
        }
    }

    #[test]
    fn ci_is_deterministic_88_chars_and_per_person() {
        let a = subject("홍길동").ci().unwrap();
        assert_eq!(a.len(), 88);
        assert!(munjigi_providers::person::Ci::parse(&a).is_ok());
        assert_eq!(a, subject("홍 길동").ci().unwrap());
        assert_ne!(a, subject("홍길순").ci().unwrap());
        let uid = subject("홍길동").uid().unwrap();
        assert!(uid.starts_with("SIM") && uid.len() == 23);
        assert!(subject("홍길동")
            .email()
            .unwrap()
            .ends_with("@naver.sim.invalid"));
    }
}

//! The values that cross crate boundaries: what a login proved
//! ([`Assertion`], [`Evidence`], [`Level`]) and who it proved it about
//! ([`Person`] and its personal-data types).
//!
//! A crate of its own so that `policy` (pure logic) and the receipt verifier
//! can speak of an assertion without compiling the provider adapters, openssl
//! or an HTTP stack. `munjigi_providers` re-exports everything here under its
//! old paths, so adapters and the gateway name these types as before.
//!
//! Not here: how a value is obtained (adapters, CMS checks) or released
//! (policy, the gateway's fronts). Nothing here logs; personal values have no
//! `Display` and reach serde only through [`person::serde_exposed`].

pub mod assertion;
pub mod person;
pub mod signer_cn;

pub use assertion::{Assertion, CmsEvidence, Evidence, Level, PresentationEvidence, ProviderId};
pub use person::{BirthDate, Ci, Citizen, Gender, Name, Person, PersonFieldError, Phone};
pub use signer_cn::SignerCn;

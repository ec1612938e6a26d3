//! Per-site policy as pure logic: which providers a site accepts, what assurance
//! a login needs, which scopes a request carries and which claims are released.
//!
//! The gateway snapshots a site's [`SitePolicy`] into each login transaction and
//! asks these functions at the decision points of a login: the chooser (which
//! providers to offer, [`provider_allowed`], [`required_level`]), the authorize
//! request ([`Scopes::parse`]) and the answer to the site ([`release`]). Every
//! refusal is a [`Denied`] with a stable code. Abuse limits (how many pushes
//! to one phone, starts per client and per site) are rules here too
//! ([`limits`]); their counters live in the gateway's store.
//!
//! Not here: I/O, async, clocks (any time is passed in), configuration parsing,
//! pairwise subject derivation (the gateway holds the per-site secret and passes the
//! finished `sub` in), and how a refusal looks to a site or a citizen (the gateway
//! decides that in one place). Nothing here logs, so no personal value can leak from
//! this crate into a log line.

mod claims;
mod denied;
pub mod limits;
mod scopes;
mod site;

pub use claims::{release, Claims};
pub use denied::Denied;
pub use scopes::Scopes;
pub use site::{provider_allowed, required_level, SitePolicy};

//! The operator's one TOML file, as typed structs.
//!
//! Every struct rejects unknown keys, so a typo is an error rather than a silently
//! ignored setting. Fields that later checks cite are `Spanned`, so [`check`] can say
//! `file:line:column: message`. Loading is two steps: [`raw`] parses, [`check`]
//! validates everything and reports every error at once, then [`model::Config`] is the
//! validated snapshot the server runs on (reload swaps a whole snapshot).

pub mod check;
pub mod model;
pub mod raw;
pub mod secret;

pub use check::{load, ConfigErrors};
pub use model::Config;

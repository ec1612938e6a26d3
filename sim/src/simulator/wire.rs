//! The simulator's own request and answer bodies, one module per family.
//!
//! Deliberately not the adapters' wire types: a simulator that parsed with the
//! adapter's structs would accept whatever the adapter sends, mistakes
//! included. These are written from the providers' documentation and drift
//! from the adapters' only where one of them is wrong, which the tests then
//! show.

pub mod barocert;
pub mod kakao_direct;
pub mod toss_direct;

//! The demo site the gateway serves at `/demo` (a relying party that logs in
//! through the gateway over real OIDC and HTTP, enabled by a `[demo]` config
//! section). Starting the simulator beside it is the binary's (`munjigi
//! demo`), so this library never links the simulator.

pub mod site;

//! The demo site the gateway serves at `/demo` (a relying party that logs in
//! through the gateway over real OIDC and HTTP, enabled by a `[demo]` config
//! section), with a call-centre screen (CIBA) and a kiosk (device grant)
//! when the demo client may use them. Starting the simulator beside it is the binary's (`munjigi
//! demo`), so this library never links the simulator.

pub mod away;
pub mod site;

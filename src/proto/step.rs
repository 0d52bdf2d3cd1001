//! The step vocabulary (docs/design.md, "Layers"): the names `stopAfter`, the trace and the page use. Why each
//! step exists, in words for people, is the flow's teaching text (`client::flow::text`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The steps of a run, in the order they can happen.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Read the server's metadata.
    Discovery,
    /// Try hardware attestation (skipped or refused in the fallback).
    Attestation,
    /// F1: the one-time `dcr` token for the main client.
    DcrToken,
    /// F2: register a dynamic client from the template.
    Registration,
    /// F3: keep the dynamic client on the device.
    Store,
    /// F4: the DPoP-bound HAAPI token for the dynamic client.
    HaapiToken,
    /// The first HAAPI request.
    Authorize,
    /// Each HAAPI representation followed after authorize (a form, a redirect, a poll).
    Authenticate,
    /// The authorization-code exchange.
    CodeExchange,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 9] = [
        Step::Discovery,
        Step::Attestation,
        Step::DcrToken,
        Step::Registration,
        Step::Store,
        Step::HaapiToken,
        Step::Authorize,
        Step::Authenticate,
        Step::CodeExchange,
    ];

    /// The name the trace, `stopAfter` and the page use.
    pub fn name(self) -> &'static str {
        match self {
            Step::Discovery => "discovery",
            Step::Attestation => "attestation",
            Step::DcrToken => "dcr-token",
            Step::Registration => "registration",
            Step::Store => "store",
            Step::HaapiToken => "haapi-token",
            Step::Authorize => "authorize",
            Step::Authenticate => "authenticate",
            Step::CodeExchange => "code-exchange",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

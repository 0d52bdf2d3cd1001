//! The lab against the simulator, in one place: derives the simulated server's settings from a
//! configuration document (so its main client knows the configured or generated credential), keeps
//! the "device" (DPoP key, stored dynamic client) between runs, and runs the flow in process.
//!
//! This is what the page's default mode does inside WebAssembly, and what the native tests do.

use crate::clock::Timestamp;
use crate::config::{Config, ConfigProblem, KeyStore, Method};
use crate::dpop::{DpopKey, DpopSigner};
use crate::entropy::SeededEntropy;
use crate::error::Error;
use crate::flow::{DynamicClient, Flow, FlowOptions, Outcome};
use crate::material::Material;
use crate::secret::Secret;
use crate::sim::{ClientAuthentication, SimSettings, Simulator};
use crate::trace::Trace;
use crate::x509;
use serde_json::Value;

/// A finished run.
#[derive(Clone, Debug)]
pub struct LabRun {
    /// How it ended.
    pub outcome: Outcome,
    /// What happened.
    pub trace: Trace,
}

/// A failed run: the error and the trace up to it.
#[derive(Clone, Debug)]
pub struct LabFailure {
    /// Why it stopped.
    pub error: Error,
    /// What happened before.
    pub trace: Trace,
}

impl std::fmt::Display for LabFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

/// A device and a simulated server, kept across runs.
pub struct SimLab {
    /// The simulated server.
    pub sim: Simulator,
    /// The main client's key material.
    pub material: Material,
    /// The device's DPoP key (the `wasm` key store).
    pub dpop: DpopKey,
    /// The dynamic clients kept on the device (F3).
    pub stored: Vec<DynamicClient>,
    rng: SeededEntropy,
}

impl std::fmt::Debug for SimLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimLab").field("sim", &self.sim).field("stored", &self.stored).finish_non_exhaustive()
    }
}

impl SimLab {
    /// A device with fresh keys and a simulated server that knows the device's main-client
    /// credential. Deterministic for a given `seed` and `now`.
    pub fn new(config: &Config, seed: u64, now: Timestamp) -> Result<SimLab, Error> {
        config.validate().map_err(Error::Config)?;
        if config.dpop.key_store == KeyStore::Webcrypto {
            return Err(Error::Config(vec![ConfigProblem {
                path: "dpop.keyStore".into(),
                message: "this runner keeps the DPoP key in memory; the non-extractable \"webcrypto\" key store is available through the browser bindings".into(),
            }]));
        }
        let mut rng = SeededEntropy::new(seed);
        let material = Material::prepare(config, now, &mut rng)?;
        let dpop = DpopKey::generate(&mut rng);
        let settings = simulator_settings(config, &material)?;
        Ok(SimLab { sim: Simulator::new(settings, seed ^ 0x5eed), material, dpop, stored: Vec::new(), rng })
    }

    /// Runs the flow once against the simulator; a dynamic client from an earlier run is reused.
    pub fn run(&mut self, config: &Config, now: Timestamp) -> Result<LabRun, Box<LabFailure>> {
        self.run_with(config, now, FlowOptions::default())
    }

    /// [`SimLab::run`] with options (a confirmed new destination).
    pub fn run_with(&mut self, config: &Config, now: Timestamp, options: FlowOptions) -> Result<LabRun, Box<LabFailure>> {
        let rng = Box::new(SeededEntropy::new(self.rng_seed()));
        let mut flow = match Flow::new(config.clone(), &self.material, self.stored.clone(), self.dpop.public_jwk(), rng, options) {
            Ok(f) => f,
            Err(error) => return Err(Box::new(LabFailure { error, trace: Trace::default() })),
        };
        let sim = &mut self.sim;
        let result = crate::driver::run(&mut flow, &self.dpop, &mut |request| Ok(sim.handle(request, now)), &mut self.stored, &mut || now);
        match result {
            Ok(outcome) => Ok(LabRun { outcome, trace: flow.trace().clone() }),
            Err(error) => Err(Box::new(LabFailure { error, trace: flow.trace().clone() })),
        }
    }

    /// "Forget this device": drops the stored dynamic clients.
    pub fn forget_device(&mut self) {
        self.stored.clear();
    }

    fn rng_seed(&mut self) -> u64 {
        rand_core::RngCore::next_u64(&mut self.rng)
    }
}

/// The simulator settings that make the simulated server know this configuration's clients and
/// credential; `server.simulator` (a JSON object) is merged on top, so any setting can be changed.
pub fn simulator_settings(config: &Config, material: &Material) -> Result<SimSettings, Error> {
    let problem = |path: &str, message: String| Error::Config(vec![ConfigProblem { path: path.into(), message }]);
    let mut s = SimSettings { issuer: config.server.issuer.clone(), ..SimSettings::default() };
    let ep = &config.server.endpoints;
    for (over, path) in [(&ep.token, &mut s.paths.token), (&ep.registration, &mut s.paths.registration), (&ep.authorization, &mut s.paths.authorize), (&ep.cat, &mut s.paths.cat)] {
        if let Some(u) = over.as_deref().and_then(|u| url::Url::parse(u).ok()) {
            *path = u.path().to_owned();
        }
    }
    s.main_client.client_id = config.client.client_id.clone();
    let cr = &config.credential;
    let secret = || Secret::new(cr.secret.clone().unwrap_or_default());
    s.main_client.authentication = match cr.method {
        Method::ClientSecretBasic => ClientAuthentication::ClientSecretBasic { secret: secret() },
        Method::ClientSecretPost => ClientAuthentication::ClientSecretPost { secret: secret() },
        Method::ClientSecretJwt => ClientAuthentication::ClientSecretJwt { secret: secret() },
        Method::PrivateKeyJwt => {
            let key = material.assertion_key.as_ref().ok_or_else(|| Error::State("no assertion key".into()))?;
            let mut jwk = key.public_jwk_value();
            let kid = match &cr.kid {
                Some(k) => k.clone(),
                None => crate::jose::thumbprint(&key.public_jwk())?,
            };
            jwk["kid"] = Value::String(kid);
            ClientAuthentication::PrivateKeyJwt { jwks: vec![jwk], public_keys_pem: vec![] }
        }
        Method::TlsClientAuth => {
            let ca = match (&material.device_ca, &material.certificate_chain) {
                (Some(ca), _) => ca.certificate_pem.clone(),
                (None, Some(chain)) => issuing_ca(chain).ok_or_else(|| {
                    problem("credential.certificate", "to trust a pasted tls_client_auth certificate, the simulator needs its CA: append the CA certificate after the client certificate".into())
                })?,
                (None, None) => return Err(Error::State("tls_client_auth without a certificate".into())),
            };
            ClientAuthentication::TlsClientAuth { trusted_ca_pem: vec![ca], subject_dn: None }
        }
        Method::SelfSignedTlsClientAuth => {
            let chain = material.certificate_chain.as_deref().ok_or_else(|| Error::State("no certificate".into()))?;
            let pin = x509::spki_sha256_pin(chain).map_err(|e| problem("credential.certificate", e.to_string()))?;
            ClientAuthentication::SelfSignedTlsClientAuth { pinned_spki: vec![pin] }
        }
        Method::None => ClientAuthentication::None,
    };
    s.template_client.client_id = config.client.template_client_id.clone();
    s.template_client.authenticate_client_by = vec![config.client.client_id.clone()];
    s.template_client.redirect_uris = vec![config.client.redirect_uri.clone()];
    s.template_client.scope = config.client.scope.clone();
    if let Some(overrides) = &config.server.simulator {
        s = apply_overrides(&s, overrides).map_err(|p| Error::Config(vec![p]))?;
    }
    s.validate().map_err(|e| problem("server.simulator", e))?;
    Ok(s)
}

/// `server.simulator` merged over `base`, checked against the settings' schema.
fn apply_overrides(base: &SimSettings, overrides: &Value) -> Result<SimSettings, ConfigProblem> {
    let mut merged = serde_json::to_value(base).map_err(|e| ConfigProblem { path: "server.simulator".into(), message: e.to_string() })?;
    merge(&mut merged, overrides);
    let text = merged.to_string();
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| ConfigProblem { path: format!("server.simulator.{}", e.path()), message: without_position(&e.inner().to_string()) })
}

/// Checks `server.simulator` overrides against the simulator's settings (for live validation:
/// no key material is needed).
pub fn check_simulator_overrides(overrides: &Value) -> Vec<ConfigProblem> {
    match apply_overrides(&SimSettings::default(), overrides) {
        Ok(s) => s.validate().err().map(|m| vec![ConfigProblem { path: "server.simulator".into(), message: m }]).unwrap_or_default(),
        Err(p) => vec![p],
    }
}

/// serde_json's message without "at line 1 column 400": a position in the merged document,
/// which the person never saw.
fn without_position(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_owned()
}

/// The last certificate of a chain, when it is a CA (the issuer of a pasted client certificate).
fn issuing_ca(chain: &str) -> Option<String> {
    let parts: Vec<&str> = chain.split_inclusive("-----END CERTIFICATE-----").filter(|p| p.contains("BEGIN CERTIFICATE")).collect();
    let last = parts.last()?.trim().to_owned();
    (parts.len() > 1 && x509::describe(&last).ok()?.is_ca).then_some(last)
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

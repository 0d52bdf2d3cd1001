//! The lab against the simulator, in one place: derives the simulated server's settings from a
//! configuration document (so its main client knows the configured or generated credential), keeps
//! the "device" (DPoP key, stored dynamic client) between runs, and runs the flow in process.
//!
//! This is what the page's default mode does inside WebAssembly, and what the native tests do.

use crate::client::config::{Config, ConfigProblem, Method};
use crate::client::error::Error;
use crate::client::material::PublicMaterial;
use crate::proto::secret::Secret;
#[cfg(feature = "sim")]
use crate::proto::x509;
use crate::sim::{ClientAuthentication, SimSettings};
use serde_json::Value;

#[cfg(feature = "tools")]
pub use native::{LabFailure, LabRun, SimLab};

/// The simulator settings that make the simulated server know this configuration's clients and
/// credential; `server.simulator` (a JSON object) is merged on top, so any setting can be changed.
pub fn simulator_settings(config: &Config, material: &PublicMaterial) -> Result<SimSettings, Error> {
    let problem = |path: &str, message: String| Error::Config(vec![ConfigProblem { path: path.into(), message }]);
    let mut s = SimSettings { issuer: config.server.issuer.clone(), ..SimSettings::default() };
    let ep = &config.server.endpoints;
    for (over, path) in [
        (&ep.token, &mut s.paths.token),
        (&ep.registration, &mut s.paths.registration),
        (&ep.authorization, &mut s.paths.authorize),
        (&ep.cat, &mut s.paths.cat),
    ] {
        if let Some(u) = over.as_deref().and_then(|u| crate::proto::url::Url::parse(u).ok()) {
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
            let mut jwk = material.assertion_public_jwk.clone().ok_or_else(|| Error::State("no assertion key".into()))?;
            let kid = material.assertion_kid.clone().ok_or_else(|| Error::State("no assertion kid".into()))?;
            jwk["kid"] = Value::String(kid);
            ClientAuthentication::PrivateKeyJwt { jwks: vec![jwk], public_keys_pem: vec![] }
        }
        #[cfg(not(feature = "sim"))]
        Method::TlsClientAuth | Method::SelfSignedTlsClientAuth => {
            return Err(problem(
                "credential.method",
                format!("{} needs the whole simulator module (pkg/sim/): this one (sim-lite) verifies no certificates", cr.method.name()),
            ))
        }
        #[cfg(feature = "sim")]
        Method::TlsClientAuth => {
            let ca = match (&material.device_ca_certificate, &material.certificate_chain) {
                (Some(ca), _) => ca.clone(),
                (None, Some(chain)) => issuing_ca(chain).ok_or_else(|| {
                    let issuer = x509::describe(chain).map(|leaf| format!(" ({})", leaf.issuer)).unwrap_or_default();
                    problem(
                        "credential.certificate",
                        format!("to trust a pasted tls_client_auth certificate, the simulator needs the CA that issued it{issuer}: paste the CA certificate with the client certificate (in any order)"),
                    )
                })?,
                (None, None) => return Err(Error::State("tls_client_auth without a certificate".into())),
            };
            ClientAuthentication::TlsClientAuth { trusted_ca_pem: vec![ca], subject_dn: None }
        }
        #[cfg(feature = "sim")]
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
        #[cfg(feature = "sim")]
        {
            s = overrides::apply(&s, overrides).map_err(|p| Error::Config(vec![p]))?;
        }
        #[cfg(not(feature = "sim"))]
        {
            let _ = overrides;
            return Err(problem(
                "server.simulator",
                "settings are read by the whole simulator module (pkg/sim/): this one (sim-lite) has no settings reader".into(),
            ));
        }
    }
    s.validate().map_err(|e| problem("server.simulator", e))?;
    Ok(s)
}

/// The CA at the top of a pasted client certificate's path, wherever it and the leaf are in the
/// chain (tools write chains CA first as often as leaf first): the certificate the simulator is to
/// trust. `None` when the chain holds no CA that issued the leaf (or its issuers).
#[cfg(feature = "sim")]
fn issuing_ca(chain: &str) -> Option<String> {
    let path = x509::pem_chain_in_path_order(chain).ok()?;
    let mut top = None;
    for pair in path.windows(2) {
        let (below, above) = (x509::describe(&pair[0]).ok()?, x509::describe(&pair[1]).ok()?);
        if below.issuer != above.subject || below.subject == below.issuer || !above.is_ca {
            break;
        }
        top = Some(pair[1].clone());
    }
    top
}

#[cfg(feature = "sim")]
pub use overrides::check_simulator_overrides;

/// `server.simulator`: settings merged over the ones a configuration implies, read with serde
/// (feature `sim`: the light simulator module carries no settings reader; a configuration with
/// overrides loads the whole one, `PublicMaterial::full_simulator_reason`).
#[cfg(feature = "sim")]
mod overrides {
    use crate::client::config::ConfigProblem;
    use crate::sim::SimSettings;
    use serde_json::Value;

    /// `server.simulator` merged over `base`, checked against the settings' schema. A problem names
    /// the path of the override that caused it: unknown fields and wrong JSON types are found by
    /// walking the overrides beside the defaults; a bad value (an unknown enumeration name) by
    /// applying the overrides one at a time.
    pub(super) fn apply(base: &SimSettings, overrides: &Value) -> Result<SimSettings, ConfigProblem> {
        let problem = |path: &str, message: String| ConfigProblem { path: path.to_owned(), message };
        let base = serde_json::to_value(base).map_err(|e| problem("server.simulator", e.to_string()))?;
        check_shape(&base, overrides, "server.simulator")?;
        let mut merged = base.clone();
        merge(&mut merged, overrides);
        let error = match serde_json::from_value::<SimSettings>(merged) {
            Ok(settings) => return Ok(settings),
            Err(e) => e.to_string(),
        };
        let mut leaves = Vec::new();
        overrides_leaves(overrides, "server.simulator".into(), &mut Vec::new(), &mut leaves);
        for (path, keys, value) in leaves {
            let mut one = base.clone();
            let mut slot = &mut one;
            for k in &keys {
                slot = &mut slot[k.as_str()];
            }
            *slot = value.clone();
            if let Err(e) = serde_json::from_value::<SimSettings>(one) {
                return Err(problem(&path, e.to_string()));
            }
        }
        Err(problem("server.simulator", error))
    }

    /// A tagged value (`{"method": …}`, as `mainClient.authentication`) is replaced whole, never merged.
    fn is_tagged(v: &Value) -> bool {
        v.get("method").is_some()
    }

    /// Every override key must be a setting, and of the setting's JSON type.
    fn check_shape(base: &Value, over: &Value, path: &str) -> Result<(), ConfigProblem> {
        use crate::proto::json::kind_of as kind;
        match (base, over) {
            (Value::Object(b), Value::Object(o)) if !is_tagged(base) => {
                for (k, v) in o {
                    let at = format!("{path}.{k}");
                    match b.get(k) {
                        None => {
                            return Err(ConfigProblem {
                                path: at,
                                message: format!("unknown setting {k:?}; the settings here are {}", b.keys().cloned().collect::<Vec<_>>().join(", ")),
                            })
                        }
                        Some(slot) => check_shape(slot, v, &at)?,
                    }
                }
                Ok(())
            }
            (Value::Null, _) | (_, Value::Null) => Ok(()),
            (b, o) if std::mem::discriminant(b) == std::mem::discriminant(o) => Ok(()),
            (b, o) => Err(ConfigProblem { path: path.to_owned(), message: format!("must be {}, not {}", kind(b), kind(o)) }),
        }
    }

    fn overrides_leaves<'a>(v: &'a Value, path: String, keys: &mut Vec<String>, out: &mut Vec<(String, Vec<String>, &'a Value)>) {
        match v {
            Value::Object(m) if !is_tagged(v) => {
                for (k, child) in m {
                    keys.push(k.clone());
                    overrides_leaves(child, format!("{path}.{k}"), keys, out);
                    keys.pop();
                }
            }
            other => out.push((path, keys.clone(), other)),
        }
    }

    /// Checks `server.simulator` overrides against the simulator's settings (for live validation:
    /// no key material is needed).
    pub fn check_simulator_overrides(overrides: &Value) -> Vec<ConfigProblem> {
        match apply(&SimSettings::default(), overrides) {
            Ok(s) => s.validate().err().map(|m| vec![ConfigProblem { path: "server.simulator".into(), message: m }]).unwrap_or_default(),
            Err(p) => vec![p],
        }
    }

    fn merge(base: &mut Value, over: &Value) {
        match (base, over) {
            (Value::Object(b), Value::Object(o)) => {
                for (k, v) in o {
                    match b.get_mut(k) {
                        Some(slot) if slot.is_object() && v.is_object() && !is_tagged(v) => merge(slot, v),
                        _ => {
                            b.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (b, o) => *b = o.clone(),
        }
    }
}

/// The flow against the simulator in process, with every kind of key (feature `tools`): what
/// the native tests, the benchmarks and the doctests run.
#[cfg(feature = "tools")]
mod native {
    use super::simulator_settings;
    use crate::client::client_auth::{KeyRole, SignRequest};
    use crate::client::config::{Config, ConfigProblem, KeyStore};
    use crate::client::driver::{automatic_answer, run_blocking, Answers, SyncEnvironment};
    use crate::client::error::Error;
    use crate::client::flow::InputRequest;
    use crate::client::flow::{DynamicClient, Flow, FlowOptions, Outcome};
    use crate::client::material::Material;
    use crate::client::trace::Trace;
    use crate::proto::clock::Timestamp;
    use crate::proto::entropy::SeededEntropy;
    use crate::proto::jose::keys::PrivateKey;
    use crate::proto::jose::p256::P256Key;
    use crate::sim::Simulator;

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
        pub dpop: P256Key,
        /// The dynamic clients kept on the device (F3).
        pub stored: Vec<DynamicClient>,
        assertion_signer: Option<PrivateKey>,
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
                    message: "this runner keeps the DPoP key in memory; the non-extractable \"webcrypto\" key store is available through the browser bindings"
                        .into(),
                }]));
            }
            let mut rng = SeededEntropy::new(seed);
            let material = Material::prepare(config, now, &mut rng)?;
            let dpop = P256Key::generate(&mut rng);
            let settings = simulator_settings(config, &material.public(config))?;
            let assertion_signer = material.assertion_key.as_ref().map(|k| PrivateKey::parse(k.pkcs8_pem.expose())).transpose()?;
            Ok(SimLab { sim: Simulator::new(settings, seed ^ 0x5eed), material, dpop, stored: Vec::new(), assertion_signer, rng })
        }

        /// Runs the flow once against the simulator; a dynamic client from an earlier run is reused.
        pub fn run(&mut self, config: &Config, now: Timestamp) -> Result<LabRun, Box<LabFailure>> {
            self.run_with(config, now, FlowOptions::default())
        }

        /// [`SimLab::run`] with options (a confirmed new destination).
        pub fn run_with(&mut self, config: &Config, now: Timestamp, options: FlowOptions) -> Result<LabRun, Box<LabFailure>> {
            self.run_over(config, now, options, &mut |request, sim| Ok(sim.handle(request, now)), None)
        }

        /// [`SimLab::run_with`] where `answers` answers the HAAPI walk's questions (a person at
        /// the form, the other device); `None` from it ends the run with the question's error.
        pub fn run_answering(&mut self, config: &Config, now: Timestamp, options: FlowOptions, answers: Answers<'_>) -> Result<LabRun, Box<LabFailure>> {
            self.run_over(config, now, options, &mut |request, sim| Ok(sim.handle(request, now)), Some(answers))
        }

        /// Runs with a transport of the caller's that may answer a request itself or hand it to the
        /// simulator (tests of hostile servers and proxies).
        pub fn run_over(
            &mut self,
            config: &Config,
            now: Timestamp,
            options: FlowOptions,
            transport: &mut dyn FnMut(
                &crate::proto::http::HttpRequest,
                &mut Simulator,
            ) -> Result<crate::proto::http::HttpResponse, crate::proto::http::TransportError>,
            answers: Option<Answers<'_>>,
        ) -> Result<LabRun, Box<LabFailure>> {
            let seed = rand_core::RngCore::next_u64(&mut self.rng);
            let mut flow = match Flow::new(
                config.clone(),
                &self.material,
                self.stored.clone(),
                self.dpop.public_jwk().clone(),
                Box::new(SeededEntropy::new(seed)),
                options,
            ) {
                Ok(f) => f,
                Err(error) => return Err(Box::new(LabFailure { trace: Trace::refused(error.to_json()), error })),
            };
            let (sim, dpop, assertion) = (&mut self.sim, &self.dpop, &self.assertion_signer);
            let shared_secret = config.credential.secret.as_ref();
            let mut sign_rng = SeededEntropy::new(seed ^ 0x51);
            let mut answers = answers;
            let mut ask = |request: &InputRequest| match &mut answers {
                Some(answers) => answers(request),
                None => automatic_answer(request),
            };
            let mut env = SyncEnvironment {
                answers: Some(&mut ask),
                transport: |request: &crate::proto::http::HttpRequest| transport(request, sim),
                signer: |job: &SignRequest| -> Result<Vec<u8>, Error> {
                    match job.role {
                        KeyRole::Dpop => Ok(dpop.sign(job.signing_input.as_bytes())),
                        KeyRole::Assertion => {
                            let key = assertion.as_ref().ok_or_else(|| Error::State("no assertion key".into()))?;
                            Ok(key.sign(job.alg, job.signing_input.as_bytes(), &mut sign_rng)?)
                        }
                        KeyRole::SharedSecret => {
                            let secret = shared_secret.ok_or_else(|| Error::State("client_secret_jwt without credential.secret".into()))?;
                            Ok(crate::proto::jose::hmac_sign(job.alg, secret.as_bytes(), job.signing_input.as_bytes())?)
                        }
                    }
                },
                clients: &mut self.stored,
                clock: &mut || now,
            };
            match run_blocking(&mut flow, &mut env) {
                Ok(outcome) => Ok(LabRun { outcome, trace: flow.trace().clone() }),
                Err(error) => Err(Box::new(LabFailure { error, trace: flow.trace().clone() })),
            }
        }

        /// "Forget this device": drops the stored dynamic clients.
        pub fn forget_device(&mut self) {
            self.stored.clear();
        }
    }
}

#[cfg(all(test, not(feature = "sim")))]
mod light_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_light_simulator_sends_settings_to_the_whole_one() {
        let mut doc = Config::default().to_json();
        doc["credential"] = json!({ "method": "client_secret_basic", "secret": "Password1" });
        doc["server"]["simulator"] = json!({ "dpopNonce": "off" });
        let config = Config::from_value(&doc).unwrap();
        let Err(Error::Config(problems)) = simulator_settings(&config, &PublicMaterial::default()) else { panic!("settings accepted") };
        assert_eq!(problems[0].path, "server.simulator");
        assert!(problems[0].message.contains("pkg/sim/"), "{}", problems[0].message);
    }
}

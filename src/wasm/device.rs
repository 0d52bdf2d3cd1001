//! What the device keeps: the encrypted record (dynamic client, generated key material, the
//! in-page simulator's database) and the simulator that a build may or may not have.

use super::*;

/// What the device keeps (encrypted at rest as one record).
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeviceRecord {
    /// The dynamic clients, each bound to the destinations it may be sent to.
    #[serde(default)]
    pub(super) clients: Vec<DynamicClient>,
    /// Generated key material, one entry per `method/alg`, so switching methods loses nothing.
    #[serde(default)]
    pub(super) materials: std::collections::BTreeMap<String, StoredMaterial>,
    /// The wasm key store's DPoP key (PKCS#8 PEM).
    pub(super) dpop_key_pem: Option<String>,
    /// The in-page simulator's database.
    pub(super) simulator: Option<Value>,
    // Records written before several clients and materials were kept: read, then migrated.
    #[serde(default, skip_serializing)]
    client: Option<DynamicClient>,
    #[serde(default, skip_serializing)]
    material_for: Option<String>,
    #[serde(flatten, skip_serializing)]
    legacy_material: StoredMaterial,
}

/// Generated material for one `method/alg`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredMaterial {
    pub(super) assertion_key_pem: Option<String>,
    pub(super) certificate_chain: Option<String>,
    pub(super) certificate_key_pem: Option<String>,
    pub(super) device_ca_certificate: Option<String>,
    pub(super) device_ca_key_pem: Option<String>,
}

impl DeviceRecord {
    /// Reads a stored record, migrating the single-client, single-material layout.
    pub(super) fn from_json(text: &str) -> DeviceRecord {
        let mut record: DeviceRecord = serde_json::from_str(text).unwrap_or_default();
        if let Some(client) = record.client.take() {
            crate::driver::ClientStore::store(&mut record.clients, &client);
        }
        if let Some(key) = record.material_for.take() {
            let legacy = std::mem::take(&mut record.legacy_material);
            record.materials.entry(key).or_insert(legacy);
        }
        record
    }
}

/// The in-page simulated server; a build without the `sim` feature has none (uninhabited).
#[cfg(feature = "sim")]
pub(super) type Sim = crate::sim::Simulator;
#[cfg(not(feature = "sim"))]
pub(super) enum Sim {}

#[cfg(feature = "sim")]
pub(super) fn make_sim(config: &Config, material: &Material, seed: u64, state: Option<&Value>) -> Result<Sim, JsValue> {
    let settings = crate::lab::simulator_settings(config, material).map_err(into_js_error)?;
    let mut sim = crate::sim::Simulator::new(settings, seed);
    if let Some(state) = state {
        // A database that no longer fits (another credential) is dropped: the device re-registers.
        let _ = sim.import_state(state);
    }
    Ok(sim)
}
#[cfg(not(feature = "sim"))]
pub(super) fn make_sim(_: &Config, _: &Material, _: u64, _: Option<&Value>) -> Result<Sim, JsValue> {
    Err(js_error("CONFIG_INVALID", "this build of the module has no simulator (built without the \"sim\" feature): set server.mode to \"http\" or load the full module", None))
}
#[cfg(feature = "sim")]
pub(super) fn sim_handle(sim: &mut Sim, request: &HttpRequest, now: Timestamp) -> HttpResponse {
    sim.handle(request, now)
}
#[cfg(not(feature = "sim"))]
pub(super) fn sim_handle(sim: &mut Sim, _: &HttpRequest, _: Timestamp) -> HttpResponse {
    match *sim {}
}
#[cfg(feature = "sim")]
pub(super) fn reset_sim(sim: &mut Sim) {
    sim.reset_database();
}
#[cfg(not(feature = "sim"))]
pub(super) fn reset_sim(sim: &mut Sim) {
    match *sim {}
}
#[cfg(feature = "sim")]
pub(super) fn sim_state(sim: &Sim) -> (Value, Value) {
    (sim.export_state(), serde_json::to_value(sim.dynamic_clients()).unwrap_or_default())
}
#[cfg(not(feature = "sim"))]
pub(super) fn sim_state(sim: &Sim) -> (Value, Value) {
    match *sim {}
}

pub(super) const RECORD: &str = "record";
pub(super) const WEBCRYPTO_KEY: &str = "dpop-webcrypto";

pub(super) fn material_key(config: &Config) -> String {
    format!("{}/{}", config.credential.method.name(), config.credential.alg.as_deref().unwrap_or("-"))
}

impl Inner {
    pub(super) fn entropy(&mut self) -> Box<dyn Entropy> {
        self.runs += 1;
        match self.seed {
            Some(seed) => Box::new(SeededEntropy::new(seed.wrapping_add(self.runs))),
            None => Box::new(OsEntropy),
        }
    }
}

pub(super) fn storage_error(what: &str, e: JsValue) -> JsValue {
    let detail = e.as_string().or_else(|| Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string())).unwrap_or_default();
    js_error("STORAGE_ERROR", &format!("{what} failed: {detail}"), None)
}

/// Reuses the device's generated material when it was made for this method and algorithm, or
/// makes new material and records it beside the others (nothing is saved until a run starts).
pub(super) fn material_for(config: &Config, record: &mut DeviceRecord, rng: &mut dyn Entropy) -> Result<Material, Error> {
    let cr = &config.credential;
    let pasted = cr.private_key.is_some() || cr.certificate.is_some();
    let key = material_key(config);
    if let (false, Some(m)) = (pasted, record.materials.get(&key)) {
        let parse = |pem: &Option<String>| pem.as_deref().map(PrivateKey::parse).transpose();
        let ca = match (&m.device_ca_certificate, &m.device_ca_key_pem) {
            (Some(c), Some(k)) => Some(crate::x509::IssuedCertificate { certificate_pem: c.clone(), private_key_pem: k.clone() }),
            _ => None,
        };
        return Ok(Material {
            assertion_key: parse(&m.assertion_key_pem)?,
            certificate_chain: m.certificate_chain.clone(),
            certificate_key: parse(&m.certificate_key_pem)?,
            device_ca: ca,
            generated: vec!["(kept on this device)"],
        });
    }
    let material = Material::prepare(config, now(), rng)?;
    if !pasted && !material.generated.is_empty() {
        record.materials.insert(key, StoredMaterial {
            assertion_key_pem: material.assertion_key.as_ref().map(|k| k.to_pkcs8_pem().expose().to_owned()),
            certificate_chain: material.certificate_chain.clone(),
            certificate_key_pem: material.certificate_key.as_ref().map(|k| k.to_pkcs8_pem().expose().to_owned()),
            device_ca_certificate: material.device_ca.as_ref().map(|c| c.certificate_pem.clone()),
            device_ca_key_pem: material.device_ca.as_ref().map(|c| c.private_key_pem.clone()),
        });
    }
    Ok(material)
}

//! What the device keeps: one record, encrypted at rest (the dynamic clients, generated key
//! material per method, the wasm key store's DPoP key, the in-page simulator's database), and
//! the storage calls into `src/js/device.js`.

use super::super::{js_error, now};
use super::modules;
use crate::client::config::{Config, Method};
use crate::client::error::Error;
use crate::client::flow::DynamicClient;
use crate::client::material::{AssertionKey, KeyNeed, Material, MtlsMaterial};
use crate::proto::entropy::Entropy;
use crate::proto::jose::p256::P256Key;
use crate::proto::jose::KeyFamily;
use crate::proto::json::{map_of, object_of};
use crate::proto::secret::Secret;
use js_sys::Reflect;
use serde_json::Value;
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/device.js")]
extern "C" {
    #[wasm_bindgen(js_name = openDevice, catch)]
    pub(crate) async fn js_open_device(name: &str, kind: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = putSecret, catch)]
    pub(crate) async fn js_put_secret(device: &JsValue, key: &str, text: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = getSecret, catch)]
    pub(crate) async fn js_get_secret(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = putPlain, catch)]
    pub(crate) async fn js_put_plain(device: &JsValue, key: &str, value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = getPlain, catch)]
    pub(crate) async fn js_get_plain(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = remove, catch)]
    pub(crate) async fn js_remove(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = rawRecord, catch)]
    pub(crate) async fn js_raw_record(device: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = generateDpopKey, catch)]
    pub(crate) async fn js_generate_dpop_key() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = hmacSign, catch)]
    pub(crate) async fn js_hmac_sign(hash: &str, secret: &str, bytes: &[u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = signEs256, catch)]
    pub(crate) async fn js_sign_es256(key: &JsValue, bytes: &[u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = sleep)]
    pub(crate) async fn js_sleep(ms: f64);
    #[wasm_bindgen(js_name = send, catch)]
    pub(crate) async fn js_send(
        method: &str,
        url: &str,
        headers: &JsValue,
        body: Option<String>,
        signal: &JsValue,
        timeout_ms: u32,
        max_bytes: u32,
        credentials: &str,
    ) -> Result<JsValue, JsValue>;
}

/// The record's key in the device store.
pub(crate) const RECORD: &str = "record";
/// The WebCrypto DPoP key's key in the device store.
pub(crate) const WEBCRYPTO_KEY: &str = "dpop-webcrypto";

/// What the device keeps (encrypted at rest as one record, JSON inside).
#[derive(Default)]
pub(crate) struct DeviceRecord {
    /// The dynamic clients, each bound to the destinations it may be sent to.
    pub(crate) clients: Vec<DynamicClient>,
    /// Generated key material, one entry per `method/alg`, so switching methods loses nothing.
    pub(crate) materials: BTreeMap<String, StoredMaterial>,
    /// The wasm key store's DPoP key (PKCS#8 PEM).
    pub(crate) dpop_key_pem: Option<String>,
    /// The in-page simulator's database.
    pub(crate) simulator: Option<Value>,
}

/// Generated material for one `method/alg`.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct StoredMaterial {
    pub(crate) assertion_key_pem: Option<String>,
    pub(crate) certificate_chain: Option<String>,
    pub(crate) certificate_key_pem: Option<String>,
    pub(crate) device_ca_certificate: Option<String>,
    pub(crate) device_ca_key_pem: Option<String>,
}

const MATERIAL_FIELDS: [&str; 5] = ["assertionKeyPem", "certificateChain", "certificateKeyPem", "deviceCaCertificate", "deviceCaKeyPem"];

impl StoredMaterial {
    fn slots(&mut self) -> [&mut Option<String>; 5] {
        [&mut self.assertion_key_pem, &mut self.certificate_chain, &mut self.certificate_key_pem, &mut self.device_ca_certificate, &mut self.device_ca_key_pem]
    }
    fn from_json(v: &Value) -> StoredMaterial {
        let mut m = StoredMaterial::default();
        for (slot, name) in m.slots().into_iter().zip(MATERIAL_FIELDS) {
            *slot = v.get(name).and_then(Value::as_str).map(str::to_owned);
        }
        m
    }
    fn to_json(&self) -> Value {
        let mut copy = self.clone();
        object_of(MATERIAL_FIELDS.iter().zip(copy.slots()).map(|(name, slot)| ((*name).to_owned(), slot.take().map_or(Value::Null, Value::String))))
    }
}

impl DeviceRecord {
    /// Reads a stored record; the single-client, single-material layout of earlier versions is
    /// migrated.
    pub(crate) fn from_json(text: &str) -> DeviceRecord {
        let v: Value = crate::proto::json::parse(text).unwrap_or_default();
        let mut record = DeviceRecord {
            clients: v.get("clients").and_then(Value::as_array).map(|a| a.iter().filter_map(DynamicClient::from_json).collect()).unwrap_or_default(),
            materials: v
                .get("materials")
                .and_then(Value::as_object)
                .map(|m| map_of(m.iter().map(|(k, v)| (k.clone(), StoredMaterial::from_json(v)))))
                .unwrap_or_default(),
            dpop_key_pem: v.get("dpopKeyPem").and_then(Value::as_str).map(str::to_owned),
            simulator: v.get("simulator").filter(|s| !s.is_null()).cloned(),
        };
        if let Some(client) = v.get("client").and_then(DynamicClient::from_json) {
            crate::client::driver::ClientStore::store(&mut record.clients, &client);
        }
        if let Some(key) = v.get("materialFor").and_then(Value::as_str) {
            record.materials.entry(key.to_owned()).or_insert_with(|| StoredMaterial::from_json(&v));
        }
        record
    }

    /// The record as stored (JSON text).
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({
            "clients": self.clients.iter().map(DynamicClient::to_json).collect::<Vec<_>>(),
            "materials": object_of(self.materials.iter().map(|(k, m)| (k.clone(), m.to_json()))),
            "dpopKeyPem": self.dpop_key_pem,
            "simulator": self.simulator,
        })
        .to_string()
    }
}

/// A storage failure as a coded JS error.
pub(crate) fn storage_error(what: &str, e: JsValue) -> JsValue {
    js_error("STORAGE_ERROR", &format!("{what} failed: {}", super::super::client::message_of(&e)), None)
}

/// Reads the record of an open device.
pub(crate) async fn read_record(device: &JsValue) -> Result<DeviceRecord, JsValue> {
    Ok(match js_get_secret(device, RECORD).await.map_err(|e| storage_error("reading the device", e))?.as_string() {
        Some(text) => DeviceRecord::from_json(&text),
        None => DeviceRecord::default(),
    })
}

/// Writes the record.
pub(crate) async fn save_record(device: &JsValue, text: &str) -> Result<(), JsValue> {
    js_put_secret(device, RECORD, text).await.map_err(|e| storage_error("saving the device", e))?;
    Ok(())
}

/// The key generated material is kept under: `method/alg`.
fn material_key(config: &Config) -> String {
    format!("{}/{}", config.credential.method.name(), config.credential.alg.as_deref().unwrap_or("-"))
}

fn crypto(e: Error) -> JsValue {
    super::into_js_error(e)
}

/// The main client's material for `config`: pasted keys as read, generated ones as kept on the
/// device for this method and algorithm, or new ones recorded beside the others (nothing is
/// saved until a run starts). RSA and P-384 keys and certificates come from the tools.
pub(crate) async fn material_for(config: &Config, record: &mut DeviceRecord, rng: &mut dyn Entropy) -> Result<Material, JsValue> {
    let cr = &config.credential;
    let key = material_key(config);
    let mut m = Material::default();
    let kept = record.materials.get(&key).cloned().unwrap_or_default();
    if cr.method == Method::PrivateKeyJwt {
        m.assertion_key = Some(match (&cr.private_key, &kept.assertion_key_pem) {
            (None, Some(pem)) => {
                m.generated.push("(kept on this device)");
                assertion_from_pem(pem, None).await?
            }
            _ => {
                let (in_core, need) = Material::assertion_key_in_core(config, rng).map_err(crypto)?;
                let key = match (in_core, need) {
                    (Some(k), _) => k,
                    (None, KeyNeed::Read(_)) => {
                        let text = cr.private_key.clone().unwrap_or_default();
                        let found = modules::read_key(&text, cr.kid.as_deref()).await?;
                        AssertionKey::from_parts(found.family, Secret::new(found.pkcs8_pem), found.public_jwk, found.kid).map_err(crypto)?
                    }
                    (None, KeyNeed::Generate(alg)) => {
                        let made = modules::generate_key(alg).await?;
                        AssertionKey::from_parts(made.family, Secret::new(made.pkcs8_pem), made.public_jwk, None).map_err(crypto)?
                    }
                    (None, KeyNeed::None) => return Err(crypto(Error::State("private_key_jwt without a key".into()))),
                };
                if cr.private_key.is_none() {
                    m.generated.push("assertion key");
                    record.materials.entry(key_name(config)).or_default().assertion_key_pem = Some(key.pkcs8_pem.expose().to_owned());
                }
                key
            }
        });
    }
    if cr.method.is_mtls() {
        m.mtls = Some(match (&cr.certificate, &cr.private_key, &kept.certificate_chain, &kept.certificate_key_pem) {
            (Some(chain), Some(key), _, _) => {
                MtlsMaterial { chain_pem: chain.clone(), key_pem: Secret::new(key.clone()), device_ca_pem: None, device_ca_key_pem: None }
            }
            (_, _, Some(chain), Some(key)) => {
                m.generated.push("(kept on this device)");
                MtlsMaterial {
                    chain_pem: chain.clone(),
                    key_pem: Secret::new(key.clone()),
                    device_ca_pem: kept.device_ca_certificate.clone(),
                    device_ca_key_pem: kept.device_ca_key_pem.clone().map(Secret::new),
                }
            }
            _ => {
                let issued = modules::issue_certificates(cr.method.name(), &config.client.client_id, now()).await?;
                let s = |k: &str| issued.get(k).and_then(Value::as_str).map(str::to_owned);
                m.generated.push("client certificate");
                if cr.method == Method::TlsClientAuth {
                    m.generated.push("device CA");
                }
                let stored = record.materials.entry(key_name(config)).or_default();
                stored.certificate_chain = s("chainPem");
                stored.certificate_key_pem = s("keyPem");
                stored.device_ca_certificate = s("deviceCaPem");
                stored.device_ca_key_pem = s("deviceCaKeyPem");
                MtlsMaterial {
                    chain_pem: s("chainPem").unwrap_or_default(),
                    key_pem: Secret::new(s("keyPem").unwrap_or_default()),
                    device_ca_pem: s("deviceCaPem"),
                    device_ca_key_pem: s("deviceCaKeyPem").map(Secret::new),
                }
            }
        });
    }
    Ok(m)
}

fn key_name(config: &Config) -> String {
    material_key(config)
}

/// An assertion key from its PKCS#8 PEM: P-256 in this module, others through the tools.
async fn assertion_from_pem(pem: &str, kid: Option<String>) -> Result<AssertionKey, JsValue> {
    match P256Key::parse(pem) {
        Ok(k) => Ok(AssertionKey::p256(k, kid)),
        Err(_) => {
            let found = modules::read_key(pem, None).await?;
            if found.family == KeyFamily::P256 {
                return Err(crypto(Error::State("a P-256 key the client could not read".into())));
            }
            AssertionKey::from_parts(found.family, Secret::new(found.pkcs8_pem), found.public_jwk, kid).map_err(crypto)
        }
    }
}

/// The kind of storage an open device uses (`indexeddb` or `memory`).
pub(crate) fn storage_kind(device: &JsValue) -> Option<String> {
    Reflect::get(device, &"kind".into()).ok().and_then(|k| k.as_string())
}

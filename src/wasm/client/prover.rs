//! `DpopProver`: DPoP proofs on their own, with either key store.

use super::super::{js_error, now, to_js};
use super::device::{js_generate_dpop_key, js_sign_es256, storage_error};
use crate::client::dpop::{unsigned_proof, ProofInput};
use crate::proto::entropy::OsEntropy;
use crate::proto::jose::compact;
use crate::proto::jose::p256::P256Key;
use js_sys::{Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::prelude::*;

enum ProverKey {
    Wasm(P256Key),
    WebCrypto(JsValue),
}

/// DPoP proofs on their own (RFC 9449 §4.2), with either key store: what a HAAPI client sends
/// on every request. Also the unit the benchmarks measure.
#[wasm_bindgen]
pub struct DpopProver {
    key: ProverKey,
    jwk: Value,
}

#[wasm_bindgen]
impl DpopProver {
    /// A prover with a new key in the `"wasm"` or `"webcrypto"` (non-extractable) key store.
    #[wasm_bindgen(unchecked_return_type = "Promise<DpopProver>")]
    pub fn create(#[wasm_bindgen(unchecked_param_type = "\"wasm\" | \"webcrypto\"")] key_store: String) -> js_sys::Promise {
        crate::wasm::promise(async move {
            let prover = match key_store.as_str() {
                "wasm" => {
                    let key = P256Key::generate(&mut OsEntropy);
                    DpopProver { jwk: key.public_jwk().clone(), key: ProverKey::Wasm(key) }
                }
                "webcrypto" => {
                    let pair = js_generate_dpop_key().await.map_err(|e| storage_error("generating the WebCrypto DPoP key", e))?;
                    let jwk = Reflect::get(&pair, &"publicJwk".into())?.as_string().unwrap_or_default();
                    let jwk = crate::proto::json::parse(&jwk).map_err(|e| js_error("CRYPTO_ERROR", &e.to_string(), None))?;
                    DpopProver { jwk, key: ProverKey::WebCrypto(Reflect::get(&pair, &"privateKey".into())?) }
                }
                other => return Err(js_error("INVALID_ARGUMENT", &format!("key store {other:?}: use \"wasm\" or \"webcrypto\""), None)),
            };
            Ok(prover.into())
        })
    }

    /// The public JWK in every proof's header.
    #[wasm_bindgen(js_name = publicJwk, unchecked_return_type = "object")]
    pub fn public_jwk(&self) -> JsValue {
        to_js(&self.jwk)
    }

    /// A proof for one request: `htm`, `htu` (query and fragment dropped), and `ath` / `nonce`
    /// when given.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn proof(&self, htm: &str, url: &str, access_token: Option<String>, nonce: Option<String>) -> js_sys::Promise {
        let input = ProofInput { method: htm, url, access_token: access_token.as_deref(), nonce: nonce.as_deref() };
        let unsigned = unsigned_proof("ES256", &self.jwk, &input, now().secs(), &mut OsEntropy);
        match &self.key {
            ProverKey::Wasm(k) => {
                let jws = compact(&unsigned, &k.sign(unsigned.as_bytes()));
                js_sys::Promise::resolve(&JsValue::from(jws))
            }
            ProverKey::WebCrypto(key) => {
                let key = key.clone();
                crate::wasm::promise(async move {
                    let sig = js_sign_es256(&key, unsigned.as_bytes()).await?;
                    Ok(compact(&unsigned, &Uint8Array::new(&sig).to_vec()).into())
                })
            }
        }
    }
}

//! `DpopProver`: DPoP proofs on their own, with either key store.

use super::*;

enum ProverKey {
    Wasm(DpopKey),
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
        future_to_promise(async move {
            let prover = match key_store.as_str() {
                "wasm" => {
                    let key = DpopKey::generate(&mut OsEntropy);
                    DpopProver { jwk: key.public_jwk(), key: ProverKey::Wasm(key) }
                }
                "webcrypto" => {
                    let pair = js_generate_dpop_key().await.map_err(|e| storage_error("generating the WebCrypto DPoP key", e))?;
                    let jwk = Reflect::get(&pair, &"publicJwk".into())?.as_string().unwrap_or_default();
                    let jwk = serde_json::from_str(&jwk).map_err(|e| js_error("CRYPTO_ERROR", &e.to_string(), None))?;
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
        let input = crate::dpop::ProofInput { method: htm, url, access_token: access_token.as_deref(), nonce: nonce.as_deref() };
        let unsigned = crate::dpop::unsigned_proof("ES256", &self.jwk, &input, now().secs(), &mut OsEntropy);
        match &self.key {
            ProverKey::Wasm(k) => {
                let jws = crate::dpop::finish(&unsigned, &k.sign(unsigned.signing_input.as_bytes()));
                js_sys::Promise::resolve(&JsValue::from(jws))
            }
            ProverKey::WebCrypto(key) => {
                let key = key.clone();
                future_to_promise(async move {
                    let sig = js_sign_es256(&key, unsigned.signing_input.as_bytes()).await?;
                    Ok(crate::dpop::finish(&unsigned, &Uint8Array::new(&sig).to_vec()).into())
                })
            }
        }
    }
}

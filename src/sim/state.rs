//! The simulated server's database as JSON, so an in-page server survives a reload (the page keeps
//! it, encrypted, in the device's storage) and a demo can show what the server holds.
//!
//! Only the client database is exported: dynamic clients with their secrets' SHA-256 hashes.
//! Replay stores, nonces and one-time `dcr` tokens are short-lived and start empty again.

use super::{DynamicClient, DynamicClientInfo, Simulator};
use crate::proto::jose::{b64url, b64url_decode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportedClient {
    client_id: String,
    template: String,
    issued_at: u64,
    secret_expires_at: u64,
    registered_by: String,
    secret_sha256: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Exported {
    version: u32,
    issuer: String,
    dynamic_clients: Vec<ExportedClient>,
}

/// One client as [`Simulator::export_state`] lists it.
pub(super) fn export_client(c: &DynamicClient) -> Value {
    serde_json::to_value(exported(c)).unwrap_or_default()
}

fn exported(c: &DynamicClient) -> ExportedClient {
    ExportedClient {
        client_id: c.info.client_id.clone(),
        template: c.info.template.clone(),
        issued_at: c.info.issued_at,
        secret_expires_at: c.info.secret_expires_at,
        registered_by: c.info.registered_by.clone(),
        secret_sha256: b64url(&c.secret_sha256),
    }
}

impl Simulator {
    /// The client database as JSON (`{version, issuer, dynamicClients}`); secrets only as hashes.
    pub fn export_state(&self) -> Value {
        let dynamic_clients = self.store.dynamic_clients.lock().values().map(exported).collect();
        serde_json::to_value(Exported { version: 1, issuer: self.settings.issuer.clone(), dynamic_clients }).unwrap_or_default()
    }

    /// Restores a database exported by [`Simulator::export_state`] for the same issuer. On any
    /// mismatch nothing changes and the reason is returned.
    pub fn import_state(&mut self, state: &Value) -> Result<(), String> {
        let exported: Exported = serde_json::from_value(state.clone()).map_err(|e| format!("not a simulator database: {e}"))?;
        if exported.version != 1 {
            return Err(format!("database version {} is not supported", exported.version));
        }
        if exported.issuer != self.settings.issuer {
            return Err(format!("the database belongs to issuer {}, not {}", exported.issuer, self.settings.issuer));
        }
        let lifetime = self.settings.dynamic_client_ttl_secs;
        let mut clients = Vec::with_capacity(exported.dynamic_clients.len());
        for c in exported.dynamic_clients {
            let hash: [u8; 32] = b64url_decode(&c.secret_sha256).ok().and_then(|h| h.try_into().ok()).ok_or("a secret hash is malformed")?;
            let info = DynamicClientInfo {
                client_id: c.client_id.clone(),
                template: c.template,
                issued_at: c.issued_at,
                secret_expires_at: c.secret_expires_at,
                registered_by: c.registered_by,
            };
            let forget_at = if lifetime == 0 { u64::MAX } else { c.issued_at.saturating_add(lifetime) };
            clients.push((c.client_id, DynamicClient { info, secret_sha256: hash, forget_at }));
        }
        let mut store = self.store.dynamic_clients.lock();
        store.clear();
        for (id, client) in clients {
            store.insert(id, client);
        }
        Ok(())
    }
}

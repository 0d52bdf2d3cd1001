//! The simulated server's database as JSON, so an in-page server survives a reload (the page keeps
//! it, encrypted, in the device's storage) and a demo can show what the server holds.
//!
//! Only the client database is exported: dynamic clients with their secrets' SHA-256 hashes.
//! Replay stores, nonces and one-time `dcr` tokens are short-lived and start empty again.

use super::{DynamicClient, DynamicClientInfo, Simulator};
use crate::proto::jose::{b64url, b64url_decode};
use crate::proto::json::kind_of;
use serde_json::{json, Map, Value};

/// One client as [`Simulator::export_state`] lists it. Written and read by hand, not by serde:
/// the simulator modules then carry no serde deserializer (measured with twiggy: the derived ones
/// and the float formatting their messages use were about a fifth of the light module).
pub(super) fn export_client(c: &DynamicClient) -> Value {
    json!({
        "clientId": c.info.client_id,
        "template": c.info.template,
        "issuedAt": c.info.issued_at,
        "secretExpiresAt": c.info.secret_expires_at,
        "registeredBy": c.info.registered_by,
        "secretSha256": b64url(&c.secret_sha256),
    })
}

fn field<'a>(object: &'a Map<String, Value>, name: &str, of: &str) -> Result<&'a Value, String> {
    object.get(name).ok_or_else(|| format!("not a simulator database: {of} has no {name:?}"))
}

fn text(object: &Map<String, Value>, name: &str, of: &str) -> Result<String, String> {
    let v = field(object, name, of)?;
    v.as_str().map(str::to_owned).ok_or_else(|| format!("not a simulator database: {of}.{name} must be a string, not {}", kind_of(v)))
}

fn whole(object: &Map<String, Value>, name: &str, of: &str) -> Result<u64, String> {
    let v = field(object, name, of)?;
    v.as_u64().ok_or_else(|| format!("not a simulator database: {of}.{name} must be a whole number >= 0, not {}", kind_of(v)))
}

impl Simulator {
    /// The client database as JSON (`{version, issuer, dynamicClients}`); secrets only as hashes.
    pub fn export_state(&self) -> Value {
        let dynamic_clients: Vec<Value> = self.store.dynamic_clients.lock().values().map(export_client).collect();
        json!({ "version": 1, "issuer": self.settings.issuer, "dynamicClients": dynamic_clients })
    }

    /// Restores a database exported by [`Simulator::export_state`] for the same issuer. On any
    /// mismatch nothing changes and the reason is returned.
    pub fn import_state(&mut self, state: &Value) -> Result<(), String> {
        let Value::Object(db) = state else { return Err("not a simulator database: not a JSON object".into()) };
        let version = whole(db, "version", "the database")?;
        if version != 1 {
            return Err(format!("database version {version} is not supported"));
        }
        let issuer = text(db, "issuer", "the database")?;
        if issuer != self.settings.issuer {
            return Err(format!("the database belongs to issuer {issuer}, not {}", self.settings.issuer));
        }
        let Value::Array(listed) = field(db, "dynamicClients", "the database")? else {
            return Err("not a simulator database: dynamicClients must be an array".into());
        };
        let lifetime = self.settings.dynamic_client_ttl_secs;
        let mut clients = Vec::with_capacity(listed.len());
        for (i, c) in listed.iter().enumerate() {
            let of = format!("dynamicClients[{i}]");
            let Value::Object(c) = c else { return Err(format!("not a simulator database: {of} must be an object")) };
            let hash: [u8; 32] = b64url_decode(&text(c, "secretSha256", &of)?).ok().and_then(|h| h.try_into().ok()).ok_or("a secret hash is malformed")?;
            let info = DynamicClientInfo {
                client_id: text(c, "clientId", &of)?,
                template: text(c, "template", &of)?,
                issued_at: whole(c, "issuedAt", &of)?,
                secret_expires_at: whole(c, "secretExpiresAt", &of)?,
                registered_by: text(c, "registeredBy", &of)?,
            };
            let forget_at = if lifetime == 0 { u64::MAX } else { info.issued_at.saturating_add(lifetime) };
            clients.push((info.client_id.clone(), DynamicClient { info, secret_sha256: hash, forget_at }));
        }
        let mut store = self.store.dynamic_clients.lock();
        store.clear();
        for (id, client) in clients {
            store.insert(id, client);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimSettings;

    fn one_client() -> Value {
        json!({
            "version": 1,
            "issuer": SimSettings::default().issuer,
            "dynamicClients": [{
                "clientId": "dyn-1", "template": "haapi-template-client", "issuedAt": 1700000000,
                "secretExpiresAt": 0, "registeredBy": "haapi-android-client", "secretSha256": b64url(&[7u8; 32]),
            }],
        })
    }

    #[test]
    fn a_database_round_trips_through_its_json() {
        let mut sim = Simulator::new(SimSettings::default(), 1);
        sim.import_state(&one_client()).unwrap();
        assert_eq!(sim.export_state(), one_client());
        assert_eq!(sim.dynamic_clients().len(), 1);
    }

    #[test]
    fn a_malformed_database_changes_nothing_and_says_what_is_wrong() {
        let mut sim = Simulator::new(SimSettings::default(), 1);
        sim.import_state(&one_client()).unwrap();
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: [(&str, Change, &str); 6] = [
            ("not an object", Box::new(|v| *v = json!([1])), "not a JSON object"),
            ("no version", Box::new(|v| drop(v.as_object_mut().unwrap().remove("version"))), "has no \"version\""),
            ("version 2", Box::new(|v| v["version"] = json!(2)), "version 2 is not supported"),
            ("clients not a list", Box::new(|v| v["dynamicClients"] = json!({})), "dynamicClients must be an array"),
            ("issuedAt a string", Box::new(|v| v["dynamicClients"][0]["issuedAt"] = json!("1")), "dynamicClients[0].issuedAt must be a whole number"),
            ("short hash", Box::new(|v| v["dynamicClients"][0]["secretSha256"] = json!("AAAA")), "a secret hash is malformed"),
        ];
        for (what, change, expected) in cases {
            let mut db = one_client();
            db["dynamicClients"][0]["clientId"] = json!("dyn-2");
            change(&mut db);
            let err = sim.import_state(&db).unwrap_err();
            assert!(err.contains(expected), "{what}: {err}");
            assert_eq!(sim.export_state(), one_client(), "{what}: the store changed");
        }
    }
}

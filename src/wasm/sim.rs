//! The simulator module (`pkg/sim/`): the simulated Curity for a page in `simulator` mode. The
//! client module hands it requests as JSON and gets responses as JSON; the page loads it only
//! when the configuration uses the in-page simulator.

use super::{coded, js_error, now};
use crate::client::config::Config;
#[cfg(feature = "sim")]
use crate::client::config::ConfigProblem;
use crate::client::error::Error;
use crate::client::material::PublicMaterial;
use crate::proto::http::HttpRequest;
use crate::sim::Simulator;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// One simulated server, as the client module's `Lab` uses it.
#[wasm_bindgen]
pub struct SimServer {
    sim: Simulator,
}

#[wasm_bindgen]
impl SimServer {
    /// A server that knows the clients and the credential of `config` (the version-1 document,
    /// JSON text) and `material` (the public parts of the main client's keys, JSON text), seeded
    /// with `seed`, with the client database `state` (from [`SimServer::export_state`]) when given.
    /// Throws a `CONFIG_INVALID` error whose `problems` name the fields to fix.
    #[wasm_bindgen(js_name = forLab)]
    pub fn for_lab(config: &str, material: &str, seed: f64, state: Option<String>) -> Result<SimServer, JsValue> {
        let config = Config::from_json(config).map_err(|p| into_js_error(Error::Config(p)))?;
        let material = PublicMaterial::from_json(&crate::proto::json::parse(material).map_err(coded("INVALID_ARGUMENT"))?);
        let settings = crate::lab::simulator_settings(&config, &material).map_err(into_js_error)?;
        let mut sim = Simulator::new(settings, seed as u64);
        if let Some(state) = state.as_deref().and_then(|s| crate::proto::json::parse(s).ok()) {
            // A database of another issuer is not this server's: it starts empty (the device
            // then finds its client stale and registers again, as with a reset Curity).
            let _ = sim.import_state(&state);
        }
        Ok(SimServer { sim })
    }

    /// Answers one request (JSON text of an `HttpRequest`) at `now_ms` (ms since the epoch;
    /// the JavaScript clock when absent); the response as JSON text.
    pub fn handle(&mut self, request: &str, now_ms: Option<f64>) -> Result<String, JsValue> {
        let request: Value = crate::proto::json::parse(request).map_err(coded("INVALID_ARGUMENT"))?;
        let request = HttpRequest::from_json(&request).map_err(coded("INVALID_ARGUMENT"))?;
        let now = now_ms.map(|ms| crate::proto::clock::Timestamp::from_millis(ms as u64)).unwrap_or_else(now);
        Ok(self.sim.handle(&request, now).to_json().to_string())
    }

    /// The client database (dynamic clients, secrets only as hashes), JSON text.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> String {
        self.sim.export_state().to_string()
    }

    /// The registered dynamic clients (no secrets), JSON text.
    #[wasm_bindgen(js_name = dynamicClients)]
    pub fn dynamic_clients(&self) -> String {
        Value::Array(self.sim.dynamic_clients().iter().map(crate::sim::DynamicClientInfo::to_json).collect()).to_string()
    }

    /// Forgets every dynamic client, as when Curity's database is recreated.
    #[wasm_bindgen(js_name = resetDatabase)]
    pub fn reset_database(&mut self) {
        self.sim.reset_database();
    }

    /// The other device's answer to every polling login that waits: how many it reached.
    #[wasm_bindgen(js_name = decidePolling)]
    pub fn decide_polling(&mut self, approve: bool) -> u32 {
        self.sim.decide_polling(approve) as u32
    }
}

/// Checks `server.simulator` overrides (JSON text) against the simulator's settings: the
/// problems, JSON text (`[]` when they can work). In the whole module only: the light one reads
/// no settings (a configuration with overrides runs on the whole one).
#[cfg(feature = "sim")]
#[wasm_bindgen(js_name = checkSimulatorOverrides)]
pub fn check_simulator_overrides(overrides: &str) -> String {
    let problems: Vec<ConfigProblem> = match crate::proto::json::parse(overrides) {
        Ok(v) => crate::lab::check_simulator_overrides(&v),
        Err(e) => vec![ConfigProblem { path: "server.simulator".into(), message: format!("not JSON: {e}") }],
    };
    crate::client::config::problems_json(&problems).to_string()
}

fn into_js_error(e: Error) -> JsValue {
    js_error(e.code(), &e.to_string(), Some(&e.to_json()))
}

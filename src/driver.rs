//! The loop that drives a [`Flow`] over a synchronous transport: tests, benchmarks and the
//! in-process simulator. (In the browser the same loop is written with `await`, in the wasm
//! bindings.)

use crate::clock::Timestamp;
use crate::dpop::DpopSigner;
use crate::error::Error;
use crate::flow::{DynamicClient, Flow, Next, Outcome};
use crate::http::{HttpRequest, HttpResponse};

/// Where the device keeps its dynamic clients (F3).
pub trait ClientStore {
    /// Adds `client`, or replaces the stored client with its `client_id`.
    fn store(&mut self, client: &DynamicClient);
    /// Deletes the stored client with this `client_id`.
    fn forget(&mut self, client_id: &str);
}

impl ClientStore for Vec<DynamicClient> {
    fn store(&mut self, client: &DynamicClient) {
        match self.iter_mut().find(|c| c.client_id == client.client_id) {
            Some(slot) => *slot = client.clone(),
            None => self.push(client.clone()),
        }
    }
    fn forget(&mut self, client_id: &str) {
        self.retain(|c| c.client_id != client_id);
    }
}

/// Runs `flow` to its end. `transport` sends a request (an `Err` is a transport failure, such as
/// a refused connection); `device` keeps the dynamic clients (F3); `clock` reads the time.
pub fn run(
    flow: &mut Flow,
    signer: &dyn DpopSigner,
    transport: &mut dyn FnMut(&HttpRequest) -> Result<HttpResponse, String>,
    device: &mut dyn ClientStore,
    clock: &mut dyn FnMut() -> Timestamp,
) -> Result<Outcome, Error> {
    loop {
        match flow.poll(clock())? {
            Next::Send(request) => match transport(&request) {
                Ok(response) => flow.on_response(response, clock())?,
                Err(message) => return Err(flow.on_transport_error(&message, clock())),
            },
            Next::Sign(proof) => flow.on_signature(&signer.sign(proof.signing_input.as_bytes()))?,
            Next::Store(client) => {
                device.store(&client);
                flow.on_stored(clock())?;
            }
            Next::Forget(client_id) => {
                device.forget(&client_id);
                flow.on_stored(clock())?;
            }
            Next::Done(outcome) => return Ok(outcome),
        }
    }
}

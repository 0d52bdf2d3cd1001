//! The loop that drives a [`Flow`] over a synchronous transport: tests, benchmarks and the
//! in-process simulator. (In the browser the same loop is written with `await`, in the wasm
//! bindings.)

use crate::clock::Timestamp;
use crate::dpop::DpopSigner;
use crate::error::Error;
use crate::flow::{DynamicClient, Flow, Next, Outcome};
use crate::http::{HttpRequest, HttpResponse};

/// Runs `flow` to its end. `transport` sends a request (an `Err` is a transport failure, such as
/// a refused connection); `store` persists the dynamic client (F3); `clock` reads the time.
pub fn run(
    flow: &mut Flow,
    signer: &dyn DpopSigner,
    transport: &mut dyn FnMut(&HttpRequest) -> Result<HttpResponse, String>,
    store: &mut dyn FnMut(&DynamicClient),
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
                store(&client);
                flow.on_stored(clock())?;
            }
            Next::Done(outcome) => return Ok(outcome),
        }
    }
}

//! The one loop that runs a [`Flow`]: native tests, the simulator glue (`crate::lab`) and the
//! browser bindings all use it. It is written once, as an `async fn` over an [`Environment`]
//! (the transport, the device's keys and storage, the clock); a synchronous environment, whose
//! futures are always ready, runs it with [`run_blocking`].
//!
//! Rules about the device (keep a client, forget a stale one) are not here: the flow states
//! them as [`Next::Store`] and [`Next::Forget`], and the environment carries them out.

use super::client_auth::SignRequest;
use super::error::Error;
use super::flow::{DynamicClient, Flow, InputAnswer, InputKind, InputRequest, Next, Outcome};
use crate::proto::clock::Timestamp;
use crate::proto::http::{HttpRequest, HttpResponse, TransportError, TransportErrorKind};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// What a run needs from the world around it.
#[allow(async_fn_in_trait)] // used with concrete types only; no `Send` bound is wanted (wasm)
pub trait Environment {
    /// The current time.
    fn now(&mut self) -> Timestamp;
    /// Sends a request; an `Err` is a transport failure (a refused connection, CORS, a timeout,
    /// a body over [`crate::proto::http::MAX_RESPONSE_BYTES`]), with what arrived before it.
    async fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
    /// Signs with the device's key for `request.role`.
    async fn sign(&mut self, request: &SignRequest) -> Result<Vec<u8>, Error>;
    /// Keeps a dynamic client (adds it, or replaces the one with its `client_id`).
    async fn store(&mut self, client: &DynamicClient) -> Result<(), Error>;
    /// Deletes the stored client with this `client_id`.
    async fn forget(&mut self, client_id: &str) -> Result<(), Error>;
    /// Answers a question of the HAAPI walk, or `None` to pause the run there ([`Progress::Paused`]):
    /// the caller answers later with [`Flow::on_input`] and drives again.
    async fn input(&mut self, request: &InputRequest) -> Option<InputAnswer>;
    /// Why the run must stop now (an `AbortSignal` fired), if it must.
    fn cancelled(&mut self) -> Option<String> {
        None
    }
    /// Called each time the trace grew by a completed step.
    fn progressed(&mut self, _flow: &Flow) {}
}

/// How far [`drive`] goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Until {
    /// To the end of the run.
    End,
    /// Until at least one more step of the trace is complete (the page's "Next step"); a skipped
    /// step completes together with the step after it.
    NextStep,
}

/// Where [`drive`] stopped.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The run is over.
    Done(Outcome),
    /// A step completed and the run goes on ([`Until::NextStep`]).
    Stepped,
    /// The run waits for an answer to this question ([`Flow::on_input`]).
    Paused(InputRequest),
}

/// Drives `flow` in `env` until `until`. An `Err` ends the run; the trace (`flow.trace()`) holds
/// the failed step with its evidence.
pub async fn drive(flow: &mut Flow, env: &mut impl Environment, until: Until) -> Result<Progress, Error> {
    let start = flow.trace().steps.len();
    let mut seen = start;
    loop {
        if let Some(why) = env.cancelled() {
            let now = env.now();
            return Err(flow.on_transport_failure(TransportError::new(TransportErrorKind::Aborted, why), now));
        }
        let now = env.now();
        let next = flow.poll(now)?;
        match next {
            Next::Done(outcome) => {
                if flow.trace().steps.len() > seen {
                    env.progressed(flow);
                }
                return Ok(Progress::Done(outcome));
            }
            Next::Send(request) => {
                let result = env.send(&request).await;
                let now = env.now();
                match result {
                    Ok(response) => flow.on_response(response, now)?,
                    Err(failure) => return Err(flow.on_transport_failure(failure, now)),
                }
            }
            Next::Sign(job) => match env.sign(&job).await {
                Ok(signature) => flow.on_signature(&signature)?,
                Err(e) => {
                    let now = env.now();
                    return Err(flow.on_device_error(e, now));
                }
            },
            Next::Store(client) => {
                let stored = env.store(&client).await;
                device_done(flow, env, stored)?;
            }
            Next::Forget(client_id) => {
                let forgotten = env.forget(&client_id).await;
                device_done(flow, env, forgotten)?;
            }
            Next::Input(request) => match env.input(&request).await {
                Some(answer) => {
                    let now = env.now();
                    flow.on_input(answer, now)?;
                }
                None => return Ok(Progress::Paused(request)),
            },
        }
        let len = flow.trace().steps.len();
        if len > seen {
            seen = len;
            env.progressed(flow);
            // A skipped step is reported together with the step that follows it.
            let skipped = flow.trace().steps.last().is_some_and(|st| st.status == super::trace::Status::Skipped);
            if until == Until::NextStep && len > start && !skipped && !flow.is_finished() {
                return Ok(Progress::Stepped);
            }
        }
    }
}

fn device_done(flow: &mut Flow, env: &mut impl Environment, result: Result<(), Error>) -> Result<(), Error> {
    let now = env.now();
    match result {
        Ok(()) => flow.on_stored(now),
        Err(e) => Err(flow.on_device_error(e, now)),
    }
}

/// Runs `flow` to its end in an environment whose futures are always ready (tests, benchmarks,
/// the in-process simulator). Panics if the environment awaits something (a bug in the caller).
/// A question nobody answers ends the run with the error it stands for ([`InputAnswer::GiveUp`]).
pub fn run_blocking(flow: &mut Flow, env: &mut impl Environment) -> Result<Outcome, Error> {
    loop {
        match block_on(drive(flow, env, Until::End))? {
            Progress::Done(outcome) => return Ok(outcome),
            Progress::Paused(_) => {
                let now = env.now();
                flow.on_input(InputAnswer::GiveUp, now)?;
            }
            Progress::Stepped => unreachable!("Until::End only returns when the run is over"),
        }
    }
}

/// The answers a program gives without a person: polls go on (the simulator's other device
/// answers by its settings), redirects are followed, the configured authenticator is chosen, a
/// form is sent with what it has; a form asked again after a problem is not answered.
pub fn automatic_answer(request: &InputRequest) -> Option<InputAnswer> {
    match &request.kind {
        _ if request.problem.is_some() => None,
        InputKind::Poll { .. } | InputKind::Redirect { .. } => Some(InputAnswer::Proceed),
        InputKind::Choose { configured: Some(i), .. } => Some(InputAnswer::Choose(*i)),
        InputKind::Choose { configured: None, .. } => None,
        InputKind::Form { missing, .. } => missing.is_empty().then_some(InputAnswer::Proceed),
    }
}

/// Polls a future that never waits.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("run_blocking: the environment awaited; use `drive` with an executor instead"),
    }
}

/// Answers questions of the HAAPI walk for a [`SyncEnvironment`]: `None` pauses the run.
pub type Answers<'a> = &'a mut dyn FnMut(&InputRequest) -> Option<InputAnswer>;

/// A synchronous [`Environment`] from closures and values: the shape every native caller has.
pub struct SyncEnvironment<'a, T, S> {
    /// Answers the walk's questions ([`automatic_answer`] when `None`).
    pub answers: Option<Answers<'a>>,
    /// Sends a request; an `Err` (a `String`: a network failure, or a [`TransportError`]) is a
    /// request that got no complete response.
    pub transport: T,
    /// Signs with the device's keys.
    pub signer: S,
    /// The device's clients.
    pub clients: &'a mut Vec<DynamicClient>,
    /// The clock.
    pub clock: &'a mut dyn FnMut() -> Timestamp,
}

impl<T, S, E> Environment for SyncEnvironment<'_, T, S>
where
    T: FnMut(&HttpRequest) -> Result<HttpResponse, E>,
    E: Into<TransportError>,
    S: FnMut(&SignRequest) -> Result<Vec<u8>, Error>,
{
    fn now(&mut self) -> Timestamp {
        (self.clock)()
    }
    async fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        (self.transport)(request).map_err(Into::into)
    }
    async fn sign(&mut self, request: &SignRequest) -> Result<Vec<u8>, Error> {
        (self.signer)(request)
    }
    async fn store(&mut self, client: &DynamicClient) -> Result<(), Error> {
        ClientStore::store(self.clients, client);
        Ok(())
    }
    async fn forget(&mut self, client_id: &str) -> Result<(), Error> {
        ClientStore::forget(self.clients, client_id);
        Ok(())
    }
    async fn input(&mut self, request: &InputRequest) -> Option<InputAnswer> {
        match &mut self.answers {
            Some(answers) => answers(request),
            None => automatic_answer(request),
        }
    }
}

/// Where the device keeps its dynamic clients (F3): add-or-replace by `client_id`, delete.
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

//! A real HTTP receiver on loopback that records every request and answers
//! as the test tells it (fail the first N, answer 410, add Retry-After…).

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// Headers in arrival order (names lower case).
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// A header's value (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The headers as an `http::HeaderMap` (for signature libraries).
    pub fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (n, v) in &self.headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// `status` with a short body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: format!("status {status}"),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Behaviour = dyn Fn(usize, &Received) -> Reply + Send + Sync;

struct State {
    received: Mutex<Vec<Received>>,
    /// Every request seen, including those answered with an error.
    seen: Mutex<usize>,
    behaviour: Box<Behaviour>,
}

/// The running receiver.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// Answers 200 to everything.
    pub fn ok() -> Self {
        Self::start(|_, _| Reply::status(200))
    }

    /// Answers with `behaviour(n, request)`, n counting from 0; only 2xx
    /// requests are kept in [`Receiver::received`].
    pub fn start(behaviour: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), behaviour)
    }

    /// Like [`Receiver::start`] on a given listener (e.g. a port reserved earlier).
    pub fn start_on(
        listener: TcpListener,
        behaviour: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            received: Mutex::new(Vec::new()),
            seen: Mutex::new(0),
            behaviour: Box::new(behaviour),
        });
        let data = actix_web::web::Data::from(Arc::clone(&state));
        let handle = crate::loopback::serve(listener, 2, move |app| {
            app.app_data(data.clone())
                .app_data(actix_web::web::PayloadConfig::new(64 << 20))
                .default_service(actix_web::web::to(handle));
        })
        .expect("start the receiver");
        Self {
            addr,
            state,
            handle,
        }
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests answered with 2xx, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// How many requests were answered with 2xx.
    pub fn count(&self) -> usize {
        self.state.received.lock().unwrap().len()
    }

    /// All requests, whatever the answer.
    pub fn seen(&self) -> usize {
        *self.state.seen.lock().unwrap()
    }

    /// Waits until `n` requests were accepted (or panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count();
            if count >= n {
                return self.received();
            }
            assert!(
                Instant::now() < deadline,
                "receiver got {count} of {n} requests in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops answering (connections are refused afterwards).
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn handle(
    state: actix_web::web::Data<State>,
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
) -> actix_web::HttpResponse {
    let received = Received {
        path: req.path().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    };
    let n = {
        let mut seen = state.seen.lock().unwrap();
        *seen += 1;
        *seen - 1
    };
    let reply = (state.behaviour)(n, &received);
    if (200..300).contains(&reply.status) {
        state.received.lock().unwrap().push(received);
    }
    let mut response = actix_web::HttpResponse::build(
        actix_web::http::StatusCode::from_u16(reply.status).unwrap(),
    );
    for (name, value) in &reply.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.body(reply.body)
}

//! A real HTTP receiver on loopback that records every request and answers
//! as the test tells it (fail the first N, answer 410, add Retry-After…).

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

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
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: format!("status {status}"),
        }
    }

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
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = actix_web::web::Data::from(shared);
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .app_data(data.clone())
                        .app_data(actix_web::web::PayloadConfig::new(64 << 20))
                        .default_service(actix_web::web::to(handle))
                })
                .workers(2)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                server.await.ok();
            });
        });
        let handle = rx.recv().unwrap();
        Self {
            addr,
            state,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests answered with 2xx, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

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

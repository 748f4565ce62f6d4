//! An actix-web server of the test's (or the load tool's) own on a
//! loopback listener, on its own thread and actix system, so it never
//! competes with the runtime of the code under test.

use actix_web::dev::ServerHandle;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Serves what `configure` sets up on `listener` with `workers` workers,
/// on a thread of its own; returns the handle that stops it.
pub fn serve(
    listener: TcpListener,
    workers: usize,
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
) -> std::io::Result<ServerHandle> {
    serve_counting(listener, workers, configure, Arc::default())
}

/// [`serve`], counting the TCP connections accepted in `connections`.
pub fn serve_counting(
    listener: TcpListener,
    workers: usize,
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    connections: Arc<AtomicU64>,
) -> std::io::Result<ServerHandle> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("loopback-server".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new().configure(configure.clone())
                })
                .on_connect(move |_, _| {
                    connections.fetch_add(1, Ordering::Relaxed);
                })
                .workers(workers)
                .disable_signals()
                .listen(listener)
                .map(|server| server.run());
                match server {
                    Ok(server) => {
                        let _ = tx.send(Ok(server.handle()));
                        server.await.ok();
                    }
                    Err(error) => {
                        let _ = tx.send(Err(error));
                    }
                }
            });
        })?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the loopback server thread ended"))?
}

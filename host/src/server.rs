//! Start-up and shutdown of `hookmesh serve`: open the store, load the
//! plugins, start the dispatcher (which resumes queued deliveries) and the
//! HTTP server; on SIGINT/SIGTERM stop intake, let attempts in flight
//! finish (bounded), and exit.

use crate::api::{self, AppState};
use crate::clock::{Clock, SystemClock};
use crate::config::{Settings, StorageSettings};
use crate::declare;
use crate::dispatch::{Core, Dispatcher};
use crate::egress::Egress;
use crate::ingest::Ingestor;
use crate::metrics::Metrics;
use crate::plugin::PluginHost;
use crate::ratelimit::Rate;
use crate::signing::SecretBox;
use crate::store::embedded::EmbeddedStore;
use crate::store::redis::{RedisOptions, RedisStore};
use crate::store::Store;
use anyhow::Context as _;
use std::sync::Arc;
use std::time::Duration;

/// How long shutdown waits for attempts in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Opens the configured store.
pub fn open_store(settings: &StorageSettings) -> anyhow::Result<Store> {
    match settings {
        StorageSettings::Embedded { path, retention } => {
            let store = EmbeddedStore::open_with_retention(path, *retention)
                .with_context(|| format!("opening the store at {}", path.display()))?;
            tracing::info!(path = %path.display(), "embedded store open");
            Ok(Store::in_process(store))
        }
        StorageSettings::Redis(redis) => {
            let store = RedisStore::open(RedisOptions {
                urls: redis.urls.clone(),
                cluster: redis.cluster,
                prefix: redis.prefix.clone(),
                lease_ttl: redis.lease_ttl,
                retention: redis.retention,
            })
            .with_context(|| format!("connecting to Redis at {}", redis.urls.join(", ")))?;
            tracing::info!(urls = ?redis.urls, cluster = redis.cluster, owner = store.owner(), "redis store open");
            Ok(Store::new(Arc::new(store)))
        }
    }
}

/// What start-up would change in the configured store to match the
/// config at `file` (`hookmesh config plan`); writes nothing. The embedded
/// store is opened without its purger (and an absent file is read as an
/// empty store, not created); a running hookmesh holds that file, so plan
/// with it stopped. Redis is read while instances run.
pub async fn plan(file: Option<&std::path::Path>) -> anyhow::Result<declare::Plan> {
    let (settings, plugins) = declare::load_checked(file)?;
    let secrets = SecretBox::from_base64(&settings.security.master_key)?;
    let (store, scratch) = match &settings.storage {
        StorageSettings::Embedded { path, .. } => {
            let (open, scratch) = match path.exists() {
                true => (path.clone(), None),
                false => {
                    let empty = std::env::temp_dir()
                        .join(format!("hookmesh-plan-{}.redb", std::process::id()));
                    (empty.clone(), Some(empty))
                }
            };
            let store = EmbeddedStore::open(&open).with_context(|| {
                format!(
                    "opening the store at {} (a running hookmesh holds it: stop it first, or plan against a copy)",
                    path.display()
                )
            })?;
            (Store::in_process(store), scratch)
        }
        StorageSettings::Redis(_) => (open_store(&settings.storage)?, None),
    };
    let planned = declare::reconcile::plan(
        store.backend(),
        &secrets,
        &plugins,
        &settings.projects,
        crate::now_ms(),
    )
    .await;
    drop(store);
    if let Some(scratch) = scratch {
        std::fs::remove_file(scratch).ok();
    }
    Ok(planned?)
}

/// Binds `[server] listen` and runs the server until SIGINT or SIGTERM.
/// Must run inside an actix system.
pub async fn serve_until_signal(settings: Settings) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(settings.server.listen)
        .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
    serve(listener, settings, shutdown_signal()).await
}

/// Runs the server on `listener` until `shutdown` resolves, then stops
/// intake, lets attempts in flight finish (bounded), flushes the store and
/// gives up its leases. Must run inside an actix system. Tests and
/// embedders run it in-process on a listener of their own (port 0).
pub async fn serve(
    listener: std::net::TcpListener,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + 'static,
) -> anyhow::Result<()> {
    serve_with_clock(listener, settings, Arc::new(SystemClock), shutdown).await
}

/// [`serve`] with the delivery path on `clock` (schedules, backoff,
/// health, signature timestamps): tests drive time with a
/// [`crate::clock::ManualClock`].
pub async fn serve_with_clock(
    listener: std::net::TcpListener,
    settings: Settings,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&settings.storage)?;
    let host = PluginHost::new(settings.plugins.limits)
        .map_err(|e| anyhow::anyhow!("cannot start wasmtime: {e:#}"))?;
    let plugins = host
        .load_dir(&settings.plugins.dir)
        .context("loading plugins (build them with plugins/build.sh)")?;
    tracing::info!(count = plugins.len(), dir = %settings.plugins.dir.display(), "plugins ready");
    let secrets = SecretBox::from_base64(&settings.security.master_key)?;
    declare::apply(
        store.backend(),
        &secrets,
        &plugins,
        &settings.projects,
        crate::now_ms(),
    )
    .await
    .context("applying [[projects]] from the config")?;
    let egress = Egress::new(&settings.delivery, &settings.security)?;
    let metrics = Arc::new(Metrics::new()?);
    let ingestor =
        Arc::new(Ingestor::new(store.clone(), Arc::clone(&metrics)).with_clock(Arc::clone(&clock)));
    let dispatcher = Dispatcher::start(
        Core::new(
            store.clone(),
            Arc::clone(&ingestor),
            plugins.clone(),
            egress.clone(),
            secrets.clone(),
            settings.delivery.clone(),
            Arc::clone(&metrics),
        )
        .with_clock(clock),
    );
    let framing = crate::portal::Framing::new(settings.portal.frame_ancestors.clone());
    let state = actix_web::web::Data::new(AppState {
        store,
        ingestor,
        plugins,
        dispatcher: dispatcher.clone(),
        egress,
        secrets,
        admin_token: settings.server.admin_token.clone(),
        max_body_bytes: settings.server.max_body_bytes,
        rotation_grace: settings.security.rotation_grace,
        idempotency_ttl: settings.security.idempotency_ttl,
        metrics,
        key_usage: Default::default(),
        ingest_rate: Rate::new(
            f64::from(settings.ingest.events_per_second),
            settings.ingest.burst,
        ),
        management_rate: Rate::new(
            f64::from(settings.management.requests_per_second),
            settings.management.burst,
        ),
        retention: settings.storage.retention(),
    });
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .configure(api::configure)
            .configure(|cfg| crate::portal::configure(cfg, framing.clone()))
            .default_service(actix_web::web::to(api::no_such_route))
    })
    .listen(listener)
    .context("cannot serve on the listener")?;
    for addr in server.addrs() {
        tracing::info!(%addr, "hookmesh listening");
    }
    // Signals are ours, not actix's: its handler stops the whole actix
    // system, arbiter threads included, with deliveries still in flight.
    let running = server
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .disable_signals()
        .run();
    let intake = running.handle();
    actix_web::rt::spawn(async move {
        shutdown.await;
        intake.stop(true).await;
    });
    running.await?;
    tracing::info!("intake stopped; finishing attempts in flight");
    dispatcher.drain(SHUTDOWN_GRACE).await;
    if let Err(error) = dispatcher.core().store.flush().await {
        tracing::error!(%error, "cannot flush the store at shutdown");
    }
    if let Err(error) = dispatcher.core().store.release_all().await {
        tracing::warn!(%error, "cannot release endpoint leases; others take them after the lease TTL");
    }
    dispatcher.stop().await;
    tracing::info!("hookmesh stopped");
    Ok(())
}

/// Resolves at SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM; stop with SIGINT");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
    }
}

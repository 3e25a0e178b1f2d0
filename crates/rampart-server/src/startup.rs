//! Starting and stopping the two listeners.

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, ServiceExt as _};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use rampart::{
    jwt::{JwtService, KeyRing},
    lockout::LockoutPolicy,
    password::PasswordHasher,
};
use secrecy::ExposeSecret;

use crate::{
    audit::{
        alerts::Alerter,
        auditor::Auditor,
        checkpoints::{CheckpointError, Checkpoints},
    },
    background,
    config::Settings,
    http::stack::{self, HttpService},
    metrics::Metrics,
    payments::processor::Processor,
    state::AppState,
    store::{Database, StoreError},
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listener could not be bound.
    #[error("{variable}: cannot listen on {addr}: {source}")]
    Bind {
        /// The setting that names the address.
        variable: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The audit checkpoints could not be set up.
    #[error("audit checkpoints: {0}")]
    Checkpoints(#[from] CheckpointError),
    /// No usable JWT signing key.
    #[error("secret key: {0}")]
    SecretKey(&'static str),
    /// The shared limit store (Redis) could not be reached.
    #[error("{0}")]
    Limits(String),
    /// The metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The password hasher's parameters are invalid.
    #[error("password hashing: {0}")]
    Hashing(#[from] rampart::password::PasswordError),
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// The API listener's address.
    pub api_addr: SocketAddr,
    /// The admin listener's address.
    pub admin_addr: SocketAddr,
    /// The shared state (tests reach the database through it).
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, closes the database.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "listener failed"),
                Err(e) => tracing::error!(error = %e, "listener task failed"),
            }
        }
        // The last word: a checkpoint of everything acknowledged.
        if let Err(e) = self.state.audit.checkpoints().write(&self.state.db).await {
            tracing::error!(error = %e, "final audit checkpoint failed");
        }
        self.state.db.close().await;
    }
}

/// Opens the database, migrates it, binds both listeners and serves.
/// `extra` routes are merged into the API behind the same stack.
pub async fn start(
    settings: Settings,
    extra: Option<Router<AppState>>,
) -> Result<Running, StartError> {
    let db = Database::connect(&settings).await?;
    db.migrate().await?;
    let api = TcpListener::bind(settings.http.bind)
        .await
        .map_err(|source| StartError::Bind {
            variable: "RAMPART_BIND",
            addr: settings.http.bind,
            source,
        })?;
    let admin = TcpListener::bind(settings.http.admin_bind)
        .await
        .map_err(|source| StartError::Bind {
            variable: "RAMPART_ADMIN_BIND",
            addr: settings.http.admin_bind,
            source,
        })?;
    let local = |l: &TcpListener, variable, addr| {
        l.local_addr().map_err(|source| StartError::Bind {
            variable,
            addr,
            source,
        })
    };
    let api_addr = local(&api, "RAMPART_BIND", settings.http.bind)?;
    let admin_addr = local(&admin, "RAMPART_ADMIN_BIND", settings.http.admin_bind)?;

    let jwt = jwt_service(&settings)?;
    let cipher = field_cipher(&settings)?;
    let processor = Processor::for_settings(&settings)
        .map_err(|_| StartError::SecretKey("the payment processor client could not be built"))?;
    let checkpoints = Checkpoints::open(&settings)?;
    let broken_at = verify_trail(&checkpoints, &db).await;
    let lockout_policy = LockoutPolicy {
        threshold: settings.limits.lockout_threshold,
        ip_threshold: settings.limits.lockout_ip_threshold,
        base: settings.limits.lockout_base,
        ..LockoutPolicy::default()
    };
    let (limiter, lockout) = crate::limits::stores(&settings, lockout_policy)
        .await
        .map_err(StartError::Limits)?;
    let metrics = Metrics::new()?;
    let hasher = password_hasher(&settings, &metrics)?;
    let alerts = Alerter::start(settings.audit.alert_webhook.as_ref(), metrics.clone());
    let audit = Auditor::new(&db, alerts, checkpoints);
    let state = AppState::from(crate::state::Shared {
        settings: Arc::new(settings),
        db,
        metrics,
        audit,
        cipher: Arc::new(std::sync::RwLock::new(Arc::new(cipher))),
        processor,
        jwt,
        hasher,
        limiter: Arc::new(limiter),
        lockout: Arc::new(lockout),
    });
    if let Some(first_bad_seq) = broken_at {
        // Recorded and alerted at high severity (it is never coalesced
        // away or displaced by a flood of lesser alerts).
        state
            .audit
            .record_or_log(
                rampart::audit::AuditEvent::new(rampart::audit::EventType::SecurityViolation)
                    .detail("reason", "audit_chain_broken")
                    .detail("first_bad_seq", first_bad_seq),
            )
            .await;
    }
    let mut routes = crate::http::api_routes(&state.settings);
    if let Some(extra) = extra {
        routes = routes.merge(extra);
    }
    let api_app = stack::with_stack(routes, state.clone());
    let admin_app = stack::admin_app(state.clone());

    let (shutdown, signal) = watch::channel(false);
    let tasks = vec![
        spawn_listener(api, api_app, signal.clone()),
        spawn_listener(admin, admin_app, signal.clone()),
        background::auth_changes::spawn(state.clone(), signal.clone()),
        background::checkpointer::spawn(state.clone(), signal.clone()),
        background::secrets_refresh::spawn(state.clone(), signal.clone()),
        background::keep_alive::spawn(state.clone(), signal),
    ];
    tracing::info!(api = %api_addr, admin = %admin_addr, "listening");
    Ok(Running {
        api_addr,
        admin_addr,
        state,
        shutdown,
        tasks,
    })
}

/// Verifies the audit chain at start. A tampered trail does not stop the
/// server (the damage must stay inspectable); it is logged, and the first
/// bad sequence number returned to be recorded as a violation.
async fn verify_trail(checkpoints: &Checkpoints, db: &Database) -> Option<Option<i64>> {
    match checkpoints.verify(db).await {
        Ok(v) if v.ok => {
            tracing::info!(entries = v.entries, "audit chain verified");
            None
        }
        Ok(v) => {
            tracing::error!(
                entries = v.entries,
                first_bad_seq = v.first_bad_seq,
                "AUDIT CHAIN BROKEN"
            );
            Some(v.first_bad_seq)
        }
        Err(e) => {
            tracing::error!(error = %e, "audit chain could not be verified");
            None
        }
    }
}

fn spawn_listener(
    listener: TcpListener,
    app: impl HttpService,
    mut signal: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = signal.wait_for(|stop| *stop).await;
        })
        .await
    })
}

/// The access-token service for `settings`' secret key.
pub fn jwt_service(settings: &Settings) -> Result<JwtService, StartError> {
    let key = settings
        .secrets
        .secret_key
        .as_ref()
        .ok_or(StartError::SecretKey("no secret key is configured"))?;
    let ring = KeyRing::hs256(key.expose_secret().as_bytes())
        .map_err(|_| StartError::SecretKey("the secret key is shorter than 32 bytes"))?;
    Ok(JwtService::new(
        ring,
        "rampart",
        "rampart-api",
        settings.sessions.access_token_ttl,
    ))
}

/// The argon2id hasher: `RAMPART_HASH_PERMITS` threads with a buffer
/// each, `RAMPART_HASH_QUEUE` waiting at most, waits observed into the
/// metrics.
fn password_hasher(settings: &Settings, metrics: &Metrics) -> Result<PasswordHasher, StartError> {
    let wait = metrics.hash_wait();
    PasswordHasher::builder()
        .permits(settings.limits.hash_permits)
        .queue(settings.limits.hash_queue)
        // A starved queue answers 503 well before the request times out.
        .max_wait(settings.http.request_timeout / 2)
        .on_wait(move |waited| wait.observe(waited.as_secs_f64()))
        .build()
        .map_err(StartError::from)
}

/// The PHI cipher for `settings`' data keys.
pub fn field_cipher(settings: &Settings) -> Result<rampart::crypto::FieldCipher, StartError> {
    let keys = settings
        .secrets
        .data_keys
        .as_ref()
        .ok_or(StartError::SecretKey(
            "no PHI data key is configured (RAMPART_DATA_KEYS)",
        ))?;
    keys.cipher()
        .map_err(|_| StartError::SecretKey("no PHI data key is configured"))
}

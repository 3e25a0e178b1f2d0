//! Prometheus metrics, one registry per server (no globals, so tests can run
//! several servers in one process).

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The server's metrics; cheap to clone (one `Arc`: the access log holds
/// a clone per request in flight).
#[derive(Clone)]
pub struct Metrics(std::sync::Arc<Families>);

impl std::ops::Deref for Metrics {
    type Target = Families;

    fn deref(&self) -> &Families {
        &self.0
    }
}

/// The metric families of [`Metrics`].
pub struct Families {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    alerts: IntCounterVec,
    audit_events: IntCounterVec,
    auth_failures: IntCounterVec,
    rate_limited: IntCounterVec,
    secrets_refresh_failures: prometheus::IntCounter,
    account_cache: IntCounterVec,
    change_feed_up: prometheus::IntGauge,
    hashing: Hashing,
}

/// The password hasher's figures.
struct Hashing {
    wait: prometheus::Histogram,
    queued: prometheus::IntGauge,
    slots: prometheus::IntGauge,
    buffers: prometheus::IntGauge,
    rejected: prometheus::IntCounter,
    rejected_seen: AtomicU64,
}

impl Hashing {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let wait = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "rampart_password_hash_wait_seconds",
                "Time each password hash waited for a hashing thread",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        let queued = prometheus::IntGauge::new(
            "rampart_password_hash_queue_depth",
            "Password hashes waiting for a hashing thread now",
        )?;
        let slots = prometheus::IntGauge::new(
            "rampart_password_hash_slots_taken",
            "Requests holding a hashing slot now (running, queued, or about to queue)",
        )?;
        let buffers = prometheus::IntGauge::new(
            "rampart_password_hash_buffers",
            "argon2 working-memory buffers allocated now (19 MiB each at the default cost)",
        )?;
        let rejected = prometheus::IntCounter::new(
            "rampart_password_hash_rejected_total",
            "Requests answered 503 because every hashing slot was taken",
        )?;
        registry.register(Box::new(wait.clone()))?;
        registry.register(Box::new(queued.clone()))?;
        registry.register(Box::new(slots.clone()))?;
        registry.register(Box::new(buffers.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        Ok(Self {
            wait,
            queued,
            slots,
            buffers,
            rejected,
            rejected_seen: AtomicU64::new(0),
        })
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "rampart_http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "rampart_http_request_duration_seconds",
                "HTTP request latency by route template",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route"],
        )?;
        let alerts = IntCounterVec::new(
            Opts::new(
                "rampart_alerts_total",
                "Security alerts by outcome (sent, failed, dropped)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(alerts.clone()))?;
        let audit_events = IntCounterVec::new(
            Opts::new(
                "rampart_audit_events_total",
                "Audit events in the chain by type",
            ),
            &["event_type"],
        )?;
        let auth_failures = IntCounterVec::new(
            Opts::new(
                "rampart_auth_failures_total",
                "Refused logins and tokens by reason",
            ),
            &["reason"],
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rampart_rate_limited_total",
                "Requests answered 429 by route template",
            ),
            &["route"],
        )?;
        registry.register(Box::new(audit_events.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        let secrets_refresh_failures = prometheus::IntCounter::new(
            "rampart_secrets_refresh_failures_total",
            "Periodic secrets reads that failed (the last good values stay in use)",
        )?;
        registry.register(Box::new(secrets_refresh_failures.clone()))?;
        let account_cache = IntCounterVec::new(
            Opts::new(
                "rampart_account_cache_lookups_total",
                "Authentication and account lookups by outcome (hit: answered from memory)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(account_cache.clone()))?;
        let change_feed_up = prometheus::IntGauge::new(
            "rampart_auth_change_feed_up",
            "Whether the auth change feed vouches for the account cache (1), or every request reads the database (0)",
        )?;
        registry.register(Box::new(change_feed_up.clone()))?;
        let hashing = Hashing::new(&registry)?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self(std::sync::Arc::new(Families {
            registry,
            requests,
            latency,
            alerts,
            audit_events,
            auth_failures,
            rate_limited,
            secrets_refresh_failures,
            account_cache,
            change_feed_up,
            hashing,
        })))
    }

    /// Records one finished request.
    pub fn observe_request(&self, method: &str, route: &str, status: &str, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, status])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Counts a refused login or token.
    pub fn auth_failure(&self, reason: &str) {
        self.auth_failures.with_label_values(&[reason]).inc();
    }

    /// Counts a failed secrets refresh.
    pub fn secrets_refresh_failed(&self) {
        self.secrets_refresh_failures.inc();
    }

    /// Counts a 429.
    pub fn rate_limited(&self, route: &str) {
        self.rate_limited.with_label_values(&[route]).inc();
    }

    /// Sets the audit event counts (read from the chain at scrape time, so
    /// events written inside any transaction are included).
    pub fn set_audit_counts(&self, counts: &[(String, i64)]) {
        self.audit_events.reset();
        for (event_type, n) in counts {
            self.audit_events
                .with_label_values(&[event_type])
                .inc_by(u64::try_from(*n).unwrap_or(0));
        }
    }

    /// Sets the account cache figures (read from the cache at scrape time).
    pub fn set_account_cache(&self, hits: u64, misses: u64, feed_up: bool) {
        self.account_cache.reset();
        self.account_cache.with_label_values(&["hit"]).inc_by(hits);
        self.account_cache
            .with_label_values(&["miss"])
            .inc_by(misses);
        self.change_feed_up.set(i64::from(feed_up));
    }

    /// The histogram of hashing waits, for the hasher to observe into.
    pub fn hash_wait(&self) -> prometheus::Histogram {
        self.hashing.wait.clone()
    }

    /// Sets the hasher's figures (read from it at scrape time).
    pub fn set_hashing(&self, stats: &rampart::password::HasherStats) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.hashing.queued.set(gauge(stats.queued));
        self.hashing.slots.set(gauge(stats.slots_taken));
        self.hashing.buffers.set(gauge(stats.buffers));
        // The hasher's total only grows: add what this scrape sees beyond
        // the last one (fetch_max, so two scrapes at once add it once).
        let seen = self
            .hashing
            .rejected_seen
            .fetch_max(stats.rejected, Ordering::Relaxed);
        if stats.rejected > seen {
            self.hashing.rejected.inc_by(stats.rejected - seen);
        }
    }

    /// Counts one alert outcome.
    pub fn alert(&self, outcome: &str) {
        self.alerts.with_label_values(&[outcome]).inc();
    }

    /// The registry, for other components' metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

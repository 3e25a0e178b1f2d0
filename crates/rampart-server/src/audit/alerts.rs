//! Security-violation alerts to `RAMPART_ALERT_WEBHOOK`.
//!
//! A request only enqueues, so a slow or dead webhook never slows it; one
//! background sender POSTs each alert as JSON, retrying with back-off (4
//! attempts: 0.25, 0.5, 1 s apart, 5 s timeout each).
//!
//! Threat: a flood of cheap violations (card numbers sent unauthenticated,
//! 403s from a low-privilege account) filling the queue so that the alert
//! that matters — a spent refresh token presented again, a brute-force
//! crossing, a broken chain — is dropped. So:
//! - repeated violations of one reason from one client within a minute are
//!   coalesced: the first is sent at once (`count: 1`), the rest are
//!   counted and sent as one alert with their `count` when the minute ends
//!   (`rampart_alerts_total{outcome="coalesced"}` counts each one folded);
//! - high-severity alerts have their own queue, which the sender always
//!   drains first, so low-severity alerts can never take their place; a full
//!   queue drops an alert of its own severity only, counted
//!   (`outcome="dropped"`) and logged at error level.
//!
//! The audit trail keeps every event regardless. The webhook URL is a
//! credential (Slack and Teams URLs are): it is never logged.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rampart::audit::AuditEntry;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

const HIGH_QUEUE: usize = 256;
const LOW_QUEUE: usize = 1024;
const ATTEMPTS: u32 = 4;
/// Violations of one reason from one client within this are one alert.
const WINDOW: Duration = Duration::from_secs(60);
/// Clients tracked for coalescing before idle ones are swept.
const TRACKED: usize = 10_000;

/// Reasons whose alerts are never displaced by others.
const HIGH_SEVERITY: &[&str] = &[
    "refresh_token_reuse",
    "possible_brute_force",
    "audit_chain_broken",
];

/// The alert queue's sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct Alerter {
    inner: Option<Arc<Inner>>,
    metrics: Metrics,
}

#[derive(Debug)]
struct Inner {
    high: mpsc::Sender<Value>,
    low: mpsc::Sender<Value>,
    windows: Mutex<HashMap<(String, String), Window>>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    /// Violations folded into this window since its first alert.
    folded: u64,
    /// The latest of them, sent with the count when the window ends.
    last: Value,
    high: bool,
}

impl Alerter {
    /// Starts the sender (and the coalescing flush) when a webhook is
    /// configured.
    pub fn start(url: Option<&http::Uri>, metrics: Metrics) -> Self {
        let Some(url) = url.map(ToString::to_string) else {
            return Self {
                inner: None,
                metrics,
            };
        };
        let (high, high_rx) = mpsc::channel(HIGH_QUEUE);
        let (low, low_rx) = mpsc::channel(LOW_QUEUE);
        let inner = Arc::new(Inner {
            high,
            low,
            windows: Mutex::new(HashMap::new()),
        });
        tokio::spawn(deliver(url, high_rx, low_rx, metrics.clone()));
        let alerter = Self {
            inner: Some(inner),
            metrics,
        };
        tokio::spawn(flush_every(alerter.clone(), WINDOW / 6));
        alerter
    }

    /// The alert body for an audit entry: its fields, details already
    /// redacted, and how many violations it stands for.
    pub fn payload(entry: &AuditEntry) -> Value {
        json!({
            "event_type": entry.event_type,
            "seq": entry.seq,
            "ts": entry.ts,
            "user_id": entry.user_id,
            "ip": entry.ip,
            "request_id": entry.request_id,
            "details": serde_json::from_str::<Value>(&entry.details).unwrap_or(Value::Null),
            "count": 1,
        })
    }

    /// Enqueues an alert for `entry` without waiting, or folds it into the
    /// alert already sent for its reason and client this minute.
    pub fn send(&self, entry: &AuditEntry) {
        let Some(inner) = &self.inner else { return };
        let payload = Self::payload(entry);
        let reason = payload["details"]["reason"]
            .as_str()
            .unwrap_or(entry.event_type.as_str())
            .to_owned();
        // An IPv6 client is its /64, as for rate limits: one host cannot
        // rotate addresses to escape coalescing.
        let client = entry
            .ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .map(|ip| rampart::client_ip::ClientIp(ip).rate_key().to_string())
            .or_else(|| entry.user_id.clone())
            .unwrap_or_default();
        let high = HIGH_SEVERITY.contains(&reason.as_str());
        let now = Instant::now();
        let mut windows = inner
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(w) = windows.get_mut(&(reason.clone(), client.clone()))
            && now.duration_since(w.started) < WINDOW
        {
            w.folded += 1;
            w.last = payload;
            drop(windows);
            self.metrics.alert("coalesced");
            return;
        }
        if windows.len() >= TRACKED {
            // Too many clients at once to track (ended windows are swept by
            // the flush): this one is sent, not tracked, so memory stays
            // bounded; its queue's bound still applies.
            drop(windows);
            self.enqueue(payload, high);
            return;
        }
        let previous = windows.insert(
            (reason, client),
            Window {
                started: now,
                folded: 0,
                last: Value::Null,
                high,
            },
        );
        drop(windows);
        if let Some(w) = previous.filter(|w| w.folded > 0) {
            self.enqueue_summaries(vec![w]);
        }
        self.enqueue(payload, high);
    }

    /// Sends the count of every window that has ended.
    fn flush(&self) {
        let Some(inner) = &self.inner else { return };
        let ended = {
            let mut windows = inner
                .windows
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            take_ended(&mut windows, Instant::now())
        };
        self.enqueue_summaries(ended);
    }

    fn enqueue_summaries(&self, ended: Vec<Window>) {
        for w in ended.into_iter().filter(|w| w.folded > 0) {
            let mut summary = w.last;
            summary["count"] = json!(w.folded);
            summary["coalesced"] = json!(true);
            self.enqueue(summary, w.high);
        }
    }

    fn enqueue(&self, alert: Value, high: bool) {
        let Some(inner) = &self.inner else { return };
        let queue = if high { &inner.high } else { &inner.low };
        let seq = alert["seq"].as_i64();
        if queue.try_send(alert).is_err() {
            self.metrics.alert("dropped");
            tracing::error!(
                seq,
                high_severity = high,
                "alert queue full; alert dropped (the audit trail has the event)"
            );
        }
    }
}

fn take_ended(windows: &mut HashMap<(String, String), Window>, now: Instant) -> Vec<Window> {
    let ended: Vec<(String, String)> = windows
        .iter()
        .filter(|(_, w)| now.duration_since(w.started) >= WINDOW)
        .map(|(k, _)| k.clone())
        .collect();
    ended.iter().filter_map(|k| windows.remove(k)).collect()
}

async fn flush_every(alerter: Alerter, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        alerter.flush();
    }
}

async fn deliver(
    url: String,
    mut high: mpsc::Receiver<Value>,
    mut low: mpsc::Receiver<Value>,
    metrics: Metrics,
) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    else {
        tracing::error!("alert webhook client could not be built; alerts disabled");
        return;
    };
    loop {
        // High severity first, always.
        let alert = tokio::select! {
            biased;
            Some(a) = high.recv() => a,
            Some(a) = low.recv() => a,
            else => break,
        };
        let mut delivered = false;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << (attempt - 1))).await;
            }
            match client.post(&url).json(&alert).send().await {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(
                    status = r.status().as_u16(),
                    attempt,
                    "alert webhook refused the alert"
                ),
                // The URL is a credential: the error is logged without it.
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), attempt, "alert webhook unreachable");
                }
            }
        }
        if delivered {
            metrics.alert("sent");
        } else {
            metrics.alert("failed");
            tracing::error!(
                seq = alert["seq"].as_i64(),
                "alert could not be delivered after {ATTEMPTS} attempts"
            );
        }
    }
}

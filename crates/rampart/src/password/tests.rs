use argon2::{
    Argon2, Block, PasswordHasher as _, PasswordVerifier as _,
    password_hash::{SaltString, rand_core::OsRng},
};

use super::pool::Workspace;
use super::*;

/// A cheap cost for tests that are not about the OWASP parameters.
fn small(permits: usize, queue: usize) -> PasswordHasher {
    PasswordHasher::builder()
        .cost(1024, 1, 1)
        .permits(permits)
        .queue(queue)
        .build()
        .unwrap()
}

#[tokio::test]
async fn hashes_verify_and_unknown_users_never_do() {
    let hasher = PasswordHasher::new(2);
    let slot = hasher.slot().unwrap();
    let hash = slot.hash("vivid-otter-carpet-91".into()).await.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(
        slot.verify("vivid-otter-carpet-91".into(), Some(&hash))
            .await
            .unwrap()
    );
    assert!(
        !slot
            .verify("vivid-otter-carpet-92".into(), Some(&hash))
            .await
            .unwrap()
    );
    assert!(
        !slot
            .verify("vivid-otter-carpet-91".into(), None)
            .await
            .unwrap()
    );
    assert!(
        !slot
            .verify("x".into(), Some("not a phc string"))
            .await
            .unwrap()
    );
    assert!(!hasher.needs_rehash(&hash));
    drop(slot);
    assert!(
        hasher
            .verify("vivid-otter-carpet-91".into(), Some(&hash))
            .await
            .unwrap()
    );
    assert_eq!(hasher.stats().slots_taken, 0);
}

/// Hashes made here verify with the argon2 crate's own verifier, and
/// hashes it made (also with other parameters) verify here.
#[tokio::test]
async fn hashes_are_interchangeable_with_the_argon2_crate() {
    let hasher = PasswordHasher::new(1);
    let ours = hasher.hash("vivid-otter-carpet-91".into()).await.unwrap();
    let parsed = PasswordHash::new(&ours).unwrap();
    assert!(
        Argon2::default()
            .verify_password(b"vivid-otter-carpet-91", &parsed)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"vivid-otter-carpet-92", &parsed)
            .is_err()
    );

    for (m, t, p) in [(19_456, 2, 1), (8_192, 3, 1), (4_096, 1, 2)] {
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(m, t, p, None).unwrap(),
        );
        let theirs = argon2
            .hash_password(b"vivid-otter-carpet-91", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        let slot = hasher.slot().unwrap();
        assert!(
            slot.verify("vivid-otter-carpet-91".into(), Some(&theirs))
                .await
                .unwrap(),
            "{theirs}"
        );
        assert!(
            !slot
                .verify("vivid-otter-carpet-92".into(), Some(&theirs))
                .await
                .unwrap()
        );
    }
}

/// The unit test: one buffer, allocated once, reused by every
/// hash and all zeros between them; the output is argon2's own.
#[test]
fn the_workspace_is_reused_and_zeroized() {
    let params = Params::new(1024, 2, 1, None).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut space = Workspace::new(params.block_count());
    assert!(space.blocks().is_empty(), "no memory before the first hash");
    let zeroed = |space: &Workspace| {
        space
            .blocks()
            .iter()
            .all(|b: &Block| b.as_ref().iter().all(|w| *w == 0))
    };
    let mut first_address = None;
    let shared = pool::Shared::default();
    for (password, salt) in [
        (&b"first password"[..], b"salt-one-16bytes"),
        (&b"second"[..], b"salt-two-16bytes"),
    ] {
        let mut out = [0u8; 32];
        space
            .hash(&shared, &argon2, &params, password, salt, &mut out)
            .unwrap();
        let address = space.blocks().as_ptr();
        assert_eq!(
            *first_address.get_or_insert(address),
            address,
            "the buffer was replaced"
        );
        assert_eq!(space.blocks().len(), params.block_count());
        assert!(zeroed(&space), "the buffer holds what the hash left");
        let mut expected = [0u8; 32];
        argon2
            .hash_password_into(password, salt, &mut expected)
            .unwrap();
        assert_eq!(out, expected);
    }
}

/// A hash needing more memory than the workspace is refused, not given
/// more memory.
#[test]
fn the_workspace_never_grows() {
    let big = Params::new(2048, 1, 1, None).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, big.clone());
    let mut space = Workspace::new(1024);
    let mut out = [0u8; 32];
    assert_eq!(
        space.hash(
            &pool::Shared::default(),
            &argon2,
            &big,
            b"password",
            b"salt-one-16bytes",
            &mut out
        ),
        Err(argon2::Error::MemoryTooMuch)
    );
    assert!(space.blocks().is_empty());
}

#[tokio::test]
async fn slots_past_permits_and_queue_are_busy_at_once() {
    let hasher = small(1, 2);
    let held: Vec<Slot> = (0..3).map(|_| hasher.slot().unwrap()).collect();
    let busy = hasher.slot().unwrap_err();
    assert!(busy.retry_after_secs() >= 1);
    assert_eq!(hasher.stats().rejected, 1);
    assert_eq!(hasher.stats().slots_taken, 3);
    let response = busy.into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(http::header::RETRY_AFTER));
    assert!(matches!(
        hasher.hash("vivid-otter-carpet-91".into()).await,
        Err(PasswordError::Busy(_))
    ));
    drop(held);
    assert!(hasher.hash("vivid-otter-carpet-91".into()).await.is_ok());
}

/// A stored hash costing more memory than the buffers, or many more
/// iterations than configured, does not verify even with the right
/// password (a row edited by someone with database access cannot make a
/// login take gigabytes or minutes).
#[tokio::test]
async fn costly_stored_hashes_are_refused() {
    let hasher = small(1, 0);
    let made = |m, t| {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(m, t, 1, None).unwrap(),
        )
        .hash_password(b"vivid-otter-carpet-91", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string()
    };
    let slot = hasher.slot().unwrap();
    assert!(
        slot.verify("vivid-otter-carpet-91".into(), Some(&made(1024, 4)))
            .await
            .unwrap()
    );
    assert!(
        slot.verify("vivid-otter-carpet-91".into(), Some(&made(512, 1)))
            .await
            .unwrap()
    );
    assert!(
        !slot
            .verify("vivid-otter-carpet-91".into(), Some(&made(2048, 1)))
            .await
            .unwrap()
    );
    assert!(
        !slot
            .verify("vivid-otter-carpet-91".into(), Some(&made(1024, 5)))
            .await
            .unwrap()
    );
}

/// Hashes run on the hasher's own named threads, on Linux with the
/// `SCHED_IDLE` policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_threads_run_at_the_idle_priority() {
    let hasher = small(2, 64);
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(format!("password number {i}").into()).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let threads: Vec<(String, i64)> = std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|task| {
                    let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
                    let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                    // Field 41 is the scheduling policy; fields are counted
                    // here from the one after the parenthesised name (3).
                    let policy = stat
                        .rsplit(')')
                        .next()?
                        .split_whitespace()
                        .nth(38)?
                        .parse()
                        .ok()?;
                    Some((comm.trim().to_owned(), policy))
                })
                .filter(|(name, _)| name.starts_with("rampart-hash-"))
                .collect()
        })
        .unwrap_or_default();
    if cfg!(target_os = "linux") {
        // Other tests' hashers may have threads in this process too; all
        // of them must be idle-policy threads (SCHED_IDLE is 5).
        assert!(!threads.is_empty());
        assert!(
            threads.iter().all(|(_, policy)| *policy == 5),
            "{threads:?}"
        );
    }
    assert_eq!(hasher.stats().queued, 0);
}

/// A thread allocates its buffer at its first hash, keeps it while it
/// hashes, and returns it after an idle spell.
#[tokio::test]
async fn idle_threads_return_their_buffer() {
    let hasher = PasswordHasher::builder()
        .cost(1024, 1, 1)
        .permits(2)
        .keep_buffer_for(Duration::from_millis(200))
        .build()
        .unwrap();
    assert_eq!(hasher.stats().buffers, 0, "no memory before the first hash");
    for _ in 0..3 {
        hasher.hash("vivid-otter-carpet-91".into()).await.unwrap();
    }
    let held = hasher.stats().buffers;
    assert!((1..=2).contains(&held), "{held} buffers for 2 permits");
    let deadline = Instant::now() + Duration::from_secs(10);
    while hasher.stats().buffers > 0 {
        assert!(Instant::now() < deadline, "the buffers were kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hasher.hash("vivid-otter-carpet-91".into()).await.unwrap();
    assert_eq!(hasher.stats().buffers, 1);
}

#[tokio::test]
async fn waits_are_reported() {
    let waits = Arc::new(AtomicUsize::new(0));
    let seen = waits.clone();
    let hasher = PasswordHasher::builder()
        .cost(1024, 1, 1)
        .permits(1)
        .on_wait(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let (a, b) = tokio::join!(
        hasher.hash("first password".into()),
        hasher.hash("second password".into())
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(waits.load(Ordering::Relaxed), 2);
}

/// A hash that waits longer than the hasher allows answers `Busy` (a 503)
/// instead of waiting on, and the job is dropped unstarted.
#[tokio::test]
async fn a_hash_waiting_past_the_maximum_is_busy() {
    let hasher = PasswordHasher::builder()
        .permits(1)
        .max_wait(Duration::from_millis(5))
        .build()
        .unwrap();
    let (a, b) = tokio::join!(
        hasher.hash("first password".into()),
        hasher.hash("second password".into())
    );
    let busy = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(PasswordError::Busy(_))))
        .count();
    assert_eq!(busy, 1, "{a:?} {b:?}");
    assert!(a.is_ok() || b.is_ok());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hasher.stats().slots_taken, 0);
}

/// A cancelled caller's job keeps its place in the count until a thread
/// has skipped it, so the queue never holds more than permits + queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_keeps_counting_until_its_job_is_skipped() {
    let hasher = PasswordHasher::builder()
        .permits(1)
        .queue(1)
        .build()
        .unwrap();
    let running = tokio::spawn({
        let hasher = hasher.clone();
        async move { hasher.hash("first password".into()).await }
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    let waiting = tokio::spawn({
        let hasher = hasher.clone();
        async move { hasher.hash("second password".into()).await }
    });
    tokio::time::sleep(Duration::from_millis(2)).await;
    waiting.abort();
    let _ = waiting.await;
    // The aborted caller's job is still queued behind the first hash.
    assert_eq!(hasher.stats().slots_taken, 2);
    assert!(matches!(hasher.slot(), Err(Busy { .. })));
    running.await.unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while hasher.stats().slots_taken > 0 {
        assert!(Instant::now() < deadline, "the skipped job kept its slot");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

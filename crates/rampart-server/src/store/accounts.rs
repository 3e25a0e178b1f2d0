//! The in-memory cache that authenticates a request without a database
//! round trip: each account (without its password hash) and whether each of
//! its recently used sessions is live.
//!
//! It is kept coherent two ways. A change made through this process's
//! repositories forgets the user at once, after its commit. A change made
//! anywhere else (another instance, the CLI, SQL by hand) is appended to
//! `auth_changes` by trigger in the same transaction, and the change feed
//! ([`crate::store::changes`]) reads that log every 50 ms and forgets each
//! user it names. The cache answers only while the feed is current: after
//! each read the feed vouches for the cache for [`STALE_AFTER`] from when
//! that read began, so a change committed anywhere is seen within that
//! bound even when the feed stalls; when the feed fails, the cache is
//! emptied and every request reads the database until the feed is back.
//!
//! Fills race with changes: a lookup that missed reads the database, and a
//! change may commit and be forgotten while that read is in flight. A miss
//! therefore carries a [`Ticket`] with the cache's generation, bumped by
//! every forget; a fill whose ticket is older is dropped.

use std::{
    collections::HashMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::domain::{Account, UserId};

/// How long one successful read of the change log vouches for the cache,
/// counted from when that read began: the bound on how late a change made
/// elsewhere can take effect here.
pub const STALE_AFTER: Duration = Duration::from_millis(500);

/// How long an entry lives without a change: bounds what idle accounts
/// hold, not correctness (the log is).
const ENTRY_TTL: Duration = Duration::from_secs(300);

/// Most sessions cached in all: a full cache stops filling (the database
/// answers) until expired entries are dropped.
const CAPACITY: usize = 50_000;

/// Most sessions cached per account, so one account that logs in over and
/// over costs a bounded scan.
const SESSIONS_PER_ACCOUNT: usize = 8;

/// The cache; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AccountCache {
    shared: Arc<Shared>,
}

struct Shared {
    origin: Instant,
    /// Milliseconds since `origin` until which the cache may answer; zero
    /// until the change feed first vouches for it.
    valid_until_ms: AtomicU64,
    map: RwLock<Map>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct Map {
    /// Bumped by every forget: fills holding an older ticket are dropped.
    generation: u64,
    users: HashMap<UserId, Entry>,
    /// Sessions cached over all entries.
    sessions: usize,
    /// When the last sweep for expired entries ran.
    swept_ms: u64,
}

struct Entry {
    account: Arc<Account>,
    /// The account's recently seen sessions and whether each is live,
    /// oldest first.
    sessions: Vec<(Box<str>, bool)>,
    expires_ms: u64,
}

/// Permission to fill the cache after a miss; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Option<u64>);

/// A cached session of an account.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// The account.
    pub account: Arc<Account>,
    /// The session exists, belongs to the account and is not revoked.
    pub live: bool,
}

impl std::fmt::Debug for AccountCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountCache")
            .field("answering", &self.is_answering())
            .finish_non_exhaustive()
    }
}

impl Default for AccountCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AccountCache {
    /// An empty cache that answers nothing until [`Self::vouch`].
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                origin: Instant::now(),
                valid_until_ms: AtomicU64::new(0),
                map: RwLock::new(Map::default()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
            }),
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.shared.origin).as_millis())
            .unwrap_or(u64::MAX)
    }

    /// The time now, when the change feed vouches for it.
    fn answering_now(&self) -> Option<u64> {
        let now = self.ms(Instant::now());
        (now < self.shared.valid_until_ms.load(Ordering::Acquire)).then_some(now)
    }

    /// True while the change feed vouches for the cache.
    pub fn is_answering(&self) -> bool {
        self.answering_now().is_some()
    }

    /// What `found` makes of `user`'s live entry, or a ticket to fill it.
    /// Whether the cache answers is read under the map lock: `lost` stops
    /// answers under the write lock, so no lookup that saw the feed still
    /// up gets a ticket of the generation after the loss.
    fn lookup<T>(
        &self,
        user: UserId,
        found: impl FnOnce(&Entry) -> Option<T>,
    ) -> Result<T, Ticket> {
        let map = self
            .shared
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let now = self.answering_now();
        if let Some(now) = now
            && let Some(entry) = map.users.get(&user)
            && entry.expires_ms > now
            && let Some(hit) = found(entry)
        {
            self.shared.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.shared.misses.fetch_add(1, Ordering::Relaxed);
        Err(Ticket(now.is_some().then_some(map.generation)))
    }

    /// Session `session` of `user`, or a ticket to fill it after reading
    /// the database.
    pub fn session(&self, user: UserId, session: &str) -> Result<SessionState, Ticket> {
        self.lookup(user, |entry| {
            let (_, live) = entry.sessions.iter().find(|(id, _)| &**id == session)?;
            Some(SessionState {
                account: entry.account.clone(),
                live: *live,
            })
        })
    }

    /// The account of `user`, or a ticket to fill it.
    pub fn account(&self, user: UserId) -> Result<Arc<Account>, Ticket> {
        self.lookup(user, |entry| Some(entry.account.clone()))
    }

    /// Stores what the database said after a miss, unless something was
    /// forgotten since the ticket was issued (the read may predate it).
    pub fn fill(&self, ticket: Ticket, account: &Arc<Account>, session: Option<(&str, bool)>) {
        let Ticket(Some(generation)) = ticket else {
            return;
        };
        let now = self.ms(Instant::now());
        let mut map = self
            .shared
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if map.generation != generation {
            return;
        }
        if map.sessions >= CAPACITY {
            // At most one sweep a second: a full cache of live sessions must
            // not make every miss walk the whole map under the write lock.
            if now.saturating_sub(map.swept_ms) >= 1000 {
                map.swept_ms = now;
                map.drop_expired(now);
            }
            if map.sessions >= CAPACITY {
                return;
            }
        }
        let expires_ms = now.saturating_add(u64::try_from(ENTRY_TTL.as_millis()).unwrap_or(0));
        let Map {
            users, sessions, ..
        } = &mut *map;
        let entry = users.entry(account.id).or_insert_with(|| Entry {
            account: account.clone(),
            sessions: Vec::new(),
            expires_ms,
        });
        // The expiry stays the entry's first: refilling one session must
        // not keep the others' flags alive.
        entry.account = account.clone();
        if let Some((id, live)) = session {
            if let Some(known) = entry.sessions.iter_mut().find(|(s, _)| &**s == id) {
                known.1 = live;
            } else {
                if entry.sessions.len() >= SESSIONS_PER_ACCOUNT {
                    entry.sessions.remove(0);
                    *sessions -= 1;
                }
                entry.sessions.push((id.into(), live));
                *sessions += 1;
            }
        }
    }

    /// Drops what is cached for `user`: called after every change to the
    /// account or its sessions.
    pub fn forget(&self, user: UserId) {
        let mut map = self
            .shared
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.generation += 1;
        if let Some(entry) = map.users.remove(&user) {
            map.sessions -= entry.sessions.len();
        }
    }

    /// The change feed has applied every change committed before `read_began`:
    /// the cache may answer until [`STALE_AFTER`] after it.
    pub fn vouch(&self, read_began: Instant) {
        let until = self.ms(read_began + STALE_AFTER);
        self.shared.valid_until_ms.store(until, Ordering::Release);
    }

    /// The change feed is lost: answer nothing and drop everything (changes
    /// may be missed until it is back).
    pub fn lost(&self) {
        let mut map = self
            .shared
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.valid_until_ms.store(0, Ordering::Release);
        map.generation += 1;
        map.users.clear();
        map.sessions = 0;
    }

    /// A guard that forgets `user` when dropped: after a change, also when
    /// the request is cancelled between its commit and the next line.
    pub fn forget_on_drop(&self, user: UserId) -> ForgetOnDrop<'_> {
        ForgetOnDrop { cache: self, user }
    }

    /// (hits, misses) since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.shared.hits.load(Ordering::Relaxed),
            self.shared.misses.load(Ordering::Relaxed),
        )
    }
}

/// See [`AccountCache::forget_on_drop`].
#[derive(Debug)]
pub struct ForgetOnDrop<'a> {
    cache: &'a AccountCache,
    user: UserId,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.cache.forget(self.user);
    }
}

impl Map {
    fn drop_expired(&mut self, now: u64) {
        self.users.retain(|_, e| e.expires_ms > now);
        self.sessions = self.users.values().map(|e| e.sessions.len()).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn account(id: i64, role: Role) -> Arc<Account> {
        Arc::new(Account {
            id: UserId::new(id),
            username: format!("u{id}"),
            email: format!("u{id}@example.com"),
            role,
            bio: None,
            website: None,
            full_name: None,
            phone: None,
            address: None,
            token_version: 0,
            created_at: String::new(),
            erased_at: None,
        })
    }

    fn live_cache() -> AccountCache {
        let cache = AccountCache::new();
        cache.vouch(Instant::now());
        cache
    }

    #[test]
    fn answers_nothing_until_vouched_for() {
        let cache = AccountCache::new();
        let ticket = cache.session(UserId::new(1), "s").unwrap_err();
        cache.fill(ticket, &account(1, Role::User), Some(("s", true)));
        assert!(cache.session(UserId::new(1), "s").is_err());
    }

    #[test]
    fn a_fill_answers_until_forgotten() {
        let cache = live_cache();
        let user = UserId::new(1);
        let ticket = cache.session(user, "s").unwrap_err();
        cache.fill(ticket, &account(1, Role::Admin), Some(("s", true)));
        let hit = cache.session(user, "s").unwrap();
        assert!(hit.live);
        assert_eq!(hit.account.role, Role::Admin);
        assert!(cache.session(user, "other").is_err(), "another session");
        cache.forget(user);
        assert!(cache.session(user, "s").is_err());
    }

    #[test]
    fn a_fill_racing_a_forget_is_dropped() {
        let cache = live_cache();
        let user = UserId::new(1);
        let ticket = cache.session(user, "s").unwrap_err();
        // The session is revoked while the database read is in flight.
        cache.forget(UserId::new(2));
        cache.fill(ticket, &account(1, Role::User), Some(("s", true)));
        assert!(cache.session(user, "s").is_err());
    }

    #[test]
    fn a_lost_feed_empties_the_cache_and_stops_fills() {
        let cache = live_cache();
        let user = UserId::new(1);
        let ticket = cache.session(user, "s").unwrap_err();
        cache.fill(ticket, &account(1, Role::User), Some(("s", true)));
        cache.lost();
        assert!(!cache.is_answering());
        let ticket = cache.session(user, "s").unwrap_err();
        cache.vouch(Instant::now());
        cache.fill(ticket, &account(1, Role::User), Some(("s", true)));
        assert!(cache.session(user, "s").is_err(), "ticket from the outage");
    }

    #[test]
    fn a_stale_vouch_stops_answers() {
        let cache = AccountCache::new();
        cache.vouch(Instant::now());
        let user = UserId::new(1);
        let ticket = cache.session(user, "s").unwrap_err();
        cache.fill(ticket, &account(1, Role::User), Some(("s", true)));
        assert!(cache.session(user, "s").is_ok());
        // The feed's last read began longer ago than the bound.
        let long_ago = Instant::now()
            .checked_sub(STALE_AFTER * 2)
            .unwrap_or_else(Instant::now);
        cache.vouch(long_ago);
        assert!(cache.session(user, "s").is_err());
    }

    #[test]
    fn refilling_one_session_does_not_extend_the_others() {
        let cache = live_cache();
        let user = UserId::new(1);
        let ticket = cache.session(user, "old").unwrap_err();
        cache.fill(ticket, &account(1, Role::User), Some(("old", true)));
        let first = cache.shared.map.read().unwrap().users[&user].expires_ms;
        std::thread::sleep(Duration::from_millis(5));
        let ticket = cache.session(user, "new").unwrap_err();
        cache.fill(ticket, &account(1, Role::User), Some(("new", true)));
        assert_eq!(
            cache.shared.map.read().unwrap().users[&user].expires_ms,
            first
        );
    }

    #[test]
    fn one_account_holds_a_bounded_number_of_sessions() {
        let cache = live_cache();
        let user = UserId::new(1);
        for i in 0..100 {
            let id = format!("s{i}");
            let ticket = cache.session(user, &id).unwrap_err();
            cache.fill(ticket, &account(1, Role::User), Some((&id, true)));
        }
        let map = cache.shared.map.read().unwrap();
        assert_eq!(map.sessions, SESSIONS_PER_ACCOUNT);
        assert_eq!(map.users[&user].sessions.len(), SESSIONS_PER_ACCOUNT);
        assert_eq!(
            &*map.users[&user].sessions[SESSIONS_PER_ACCOUNT - 1].0,
            "s99"
        );
    }

    #[test]
    fn the_whole_cache_is_bounded() {
        let cache = live_cache();
        for id in 0..(CAPACITY as i64 + 100) {
            let ticket = cache.account(UserId::new(id)).unwrap_err();
            cache.fill(ticket, &account(id, Role::User), Some(("s", true)));
        }
        assert_eq!(cache.shared.map.read().unwrap().sessions, CAPACITY);
    }
}

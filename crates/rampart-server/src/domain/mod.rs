//! Types that can only hold valid values: parse, don't validate. Handlers
//! parse what a client sent into these once; repositories take and return
//! them.

mod account;
mod idempotency;
mod ids;
mod money;
mod page;
mod role;
mod text;

pub use account::Account;
pub use idempotency::IdempotencyKey;
pub use ids::UserId;
pub use money::{Currency, Money};
pub use page::{PageQuery, PageRequest, encode_cursor};
pub use role::Role;
pub use text::*;

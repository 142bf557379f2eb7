//! The storage operations the rules are written over (docs/STORAGE.md):
//! one pair of traits per resource, `…Read` and `…Write`, that each backend
//! implements with its own SQL. [`Read`] is everything a read may use and
//! [`Tx`] everything a write may use inside its transaction; both grow a
//! supertrait as each resource moves behind the seam.

mod templates;
mod tokens;

pub use templates::{TemplatesRead, TemplatesWrite};
pub use tokens::{AuthContext, TokensRead, TokensWrite};

/// The request's clock inside a write: one instant for the whole
/// transaction (milliseconds since the epoch).
pub trait Now {
    fn now(&self) -> i64;
}

/// Every read operation, on a consistent snapshot.
pub trait Read: TemplatesRead + TokensRead {}

impl<T: TemplatesRead + TokensRead + ?Sized> Read for T {}

/// Every operation a write may use, inside its one transaction.
pub trait Tx: Read + Now + TemplatesWrite + TokensWrite {}

impl<T: Read + Now + TemplatesWrite + TokensWrite + ?Sized> Tx for T {}

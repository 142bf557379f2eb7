//! The storage operations the rules are written over (docs/STORAGE.md):
//! one pair of traits per resource, `…Read` and `…Write`, that each backend
//! implements with its own SQL. [`Read`] is everything a read may use and
//! [`Tx`] everything a write may use inside its transaction; both grow a
//! supertrait as each resource moves behind the seam.

mod templates;

pub use templates::{TemplatesRead, TemplatesWrite};

/// Every read operation, on a consistent snapshot.
pub trait Read: TemplatesRead {}

impl<T: TemplatesRead + ?Sized> Read for T {}

/// Every operation a write may use, inside its one transaction.
pub trait Tx: Read + TemplatesWrite {}

impl<T: Read + TemplatesWrite + ?Sized> Tx for T {}

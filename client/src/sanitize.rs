//! Terminal sanitiser (being written).

//! The binary's life as an installed program: what it is (`version`), whether it works here
//! (`health`), and how it stops (`shutdown`: SIGTERM or `shutdown`/`exit`, state on disk).

pub mod health;
pub mod shutdown;
pub mod version;

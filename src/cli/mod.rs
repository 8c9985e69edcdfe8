//! The command line's own parts, outside the library: the agent's HTTPS client (`kyso status`,
//! the benchmark), the benchmark and the demo. They use the library like any other program.

pub mod bench;
pub mod client;
pub mod demo;

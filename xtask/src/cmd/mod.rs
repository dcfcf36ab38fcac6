//! One module per `cargo xtask` subcommand.
pub mod annotate;
pub mod artifacthub;
pub mod bench;
pub mod fixtures;
pub mod inspect;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod run;
pub mod scaffold;

//! `amali deploy` and operating the pipeline on AWS: against moto_server (moto.rs), and against mocked clients for
//! the calls moto does not implement (mocks.rs).
#![cfg(feature = "aws")]

mod mocks;
mod moto;

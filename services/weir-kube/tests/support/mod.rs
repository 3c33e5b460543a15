//! A fake Kubernetes API server, faithful in what the Kubernetes backend relies on:
//!
//! - objects with resourceVersions from one counter, and an event log;
//! - get, list (label selectors), create (409 AlreadyExists), update (409 Conflict on a
//!   stale resourceVersion, 422 without one), server-side apply with field managers
//!   (managedFields, 409 conflicts naming the other manager and field, `force`, fields a
//!   manager stops applying are removed);
//! - watch from a resourceVersion, replaying the log, then live; a resourceVersion older
//!   than the compacted log gets an `ERROR` event with 410 Expired, as the real server
//!   sends it; watches end at `timeoutSeconds`, or when a test ends them;
//! - a StatefulSet controller: pods `<name>-<i>` follow `spec.replicas`;
//! - injected faults: chosen HTTP statuses for matching requests, and connections
//!   dropped mid-request by a TCP proxy in front of the server;
//! - a record of every (API group, resource, verb) asked, for the RBAC test.

#![allow(dead_code)]

mod objects;
mod proxy;
mod server;

pub use server::FakeApi;

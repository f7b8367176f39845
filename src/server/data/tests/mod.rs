//! Tests at the data plane's seams, without sockets: the push lifecycle (publish
//! accepted and refused, replan, end, splice park and resume) and the recorder with its
//! finalisation worker against an in-memory store whose effects are asserted in order.

mod crash;
mod fixture;
mod lifecycle;
mod recording;

//! What the outage tests (`store_redis_restart`, `store_redis_failover`,
//! `store_postgres_restart`) share: each starts servers of its own on free ports, and sends
//! the session's cookie back.
#![allow(dead_code)] // each test uses what it needs

use std::net::TcpListener;

use http::HeaderMap;

/// A port nothing listens on now, for a server the test starts itself.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Request headers carrying `cookie` (a `name=value` pair).
pub fn request(cookie: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    headers
}

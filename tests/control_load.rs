//! Load and bad input: 10,000 mixed requests (valid, malformed JSON, wrong types, bodies
//! over the limit, bad signatures) from 4 concurrent clients on loopback. The server stays
//! up, every valid request succeeds, and the state afterwards is exactly what the valid
//! requests imply. Prints requests per second — on SQLite (the embedded default) and on
//! PostgreSQL (a throwaway cluster); `cargo test --release --test control_load --
//! --nocapture` shows both figures of a release build.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{signed_call, temp_dir, Server};
use serde_json::{json, Value};

const ID: &str = "AKIDload";
const KEY: &str = "load-secret";
const CLIENTS: usize = 4;
const PER_CLIENT: usize = 2_500;

#[derive(Default, Debug)]
struct Tally {
    created: Vec<String>,
    stopped: usize,
    refused_as_expected: usize,
}

fn code(v: &Value) -> String {
    v["Response"]["Error"]["Code"]
        .as_str()
        .unwrap_or("ok")
        .to_owned()
}

async fn client_run(port: u16, n: usize, t0: i64) -> Tally {
    let client = reqwest::Client::new();
    let mut tally = Tally::default();
    for i in 0..PER_CLIENT {
        let (action, body, want): (&str, Vec<u8>, &str) = match i % 10 {
            0..=3 => {
                let body = json!({"DomainName": "load.example.com", "AppName": "live", "StreamName": format!("c{n}-{i}"), "EndTime": t0 + 600});
                ("CreateRecordTask", body.to_string().into_bytes(), "ok")
            }
            4 => ("DescribeLiveRecordTemplates", b"{}".to_vec(), "ok"),
            5 => (
                "CreateRecordTask",
                b"{\"DomainName\": ".to_vec(),
                "InvalidParameter",
            ),
            6 => {
                let body = json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s", "EndTime": "soon"});
                (
                    "CreateRecordTask",
                    body.to_string().into_bytes(),
                    "InvalidParameter",
                )
            }
            7 => (
                "DescribeLiveRecordRules",
                b"{}".to_vec(),
                "AuthFailure.SignatureFailure",
            ),
            8 if i % 200 == 8 => (
                "CreateRecordTask",
                vec![b' '; 1024 * 1024 + 10],
                "RequestSizeLimitExceeded",
            ),
            8 => (
                "DescribeRecordTask",
                json!({"StartTime": t0 - 10, "EndTime": t0 + 700})
                    .to_string()
                    .into_bytes(),
                "ok",
            ),
            _ => match tally.created.get(tally.stopped) {
                Some(task) => (
                    "StopRecordTask",
                    json!({"TaskId": task}).to_string().into_bytes(),
                    "ok",
                ),
                None => ("DescribeLiveRecordRules", b"{}".to_vec(), "ok"),
            },
        };
        let key = if want == "AuthFailure.SignatureFailure" {
            "wrong"
        } else {
            KEY
        };
        let response = signed_call(&client, port, ID, key, action, body).await;
        assert_eq!(
            code(&response),
            want,
            "client {n} request {i} {action}: {response}"
        );
        if want != "ok" {
            tally.refused_as_expected += 1;
        } else if action == "CreateRecordTask" {
            tally
                .created
                .push(response["Response"]["TaskId"].as_str().unwrap().to_owned());
        } else if action == "StopRecordTask" {
            tally.stopped += 1;
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_mixed_requests() {
    let data = temp_dir("load");
    let s = Server::start(&data, Some((ID, KEY))).await;
    load(s, "SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_mixed_requests_on_postgres() {
    let dir = temp_dir("load-pg");
    let database = common::postgres::Postgres::shared().create_database("load");
    let config = dir.join("liverec.toml");
    std::fs::write(&config, format!("[database]\nurl = \"{database}\"\n")).unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let s = Server::start_with(&dir.join("data"), Some((ID, KEY)), &args).await;
    load(s, "PostgreSQL").await;
}

/// Runs the load against `s` and checks the state it leaves.
async fn load(s: Server, database: &str) {
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let started = std::time::Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client_run(s.port, n, t0)))
        .collect();
    let mut tallies = Vec::new();
    for h in handles {
        tallies.push(h.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = CLIENTS * PER_CLIENT;
    println!(
        "{database}: {total} requests in {elapsed:.2} s: {:.0} requests/s",
        total as f64 / elapsed
    );

    let client = reqwest::Client::new();
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let body = json!({"StartTime": t0 - 10, "EndTime": t0 + 700, "ScrollToken": token})
            .to_string()
            .into_bytes();
        let page = signed_call(&client, s.port, ID, KEY, "DescribeRecordTask", body).await;
        for task in page["Response"]["TaskList"].as_array().unwrap() {
            listed.push((
                task["TaskId"].as_str().unwrap().to_owned(),
                task["Stopped"].as_i64().unwrap(),
            ));
        }
        token = page["Response"]["ScrollToken"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    let created: usize = tallies.iter().map(|t| t.created.len()).sum();
    let stopped: usize = tallies.iter().map(|t| t.stopped).sum();
    assert_eq!(
        listed.len(),
        created,
        "every created task, and nothing else"
    );
    assert_eq!(listed.iter().filter(|(_, s)| *s > 0).count(), stopped);
    let mut ids: Vec<&String> = tallies.iter().flat_map(|t| t.created.iter()).collect();
    ids.sort();
    let mut listed_ids: Vec<&String> = listed.iter().map(|(id, _)| id).collect();
    listed_ids.sort();
    assert_eq!(ids, listed_ids);
    let health = client
        .get(format!("http://127.0.0.1:{}/healthz", s.port))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    s.stop();
}

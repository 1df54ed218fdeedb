//! The HTTP shell on a real socket: health, metrics, body limits, graceful shutdown.

use std::time::Duration;

use kairan::startup::Application;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestDb, settings_for};

struct Running {
    base: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    db: TestDb,
    _outbox: tempfile::TempDir,
}

async fn spawn(db: TestDb) -> Running {
    let outbox = tempfile::tempdir().unwrap();
    let settings = settings_for(&db.url, outbox.path());
    let mailer = kairan::mail::from_settings(&settings);
    let app = Application::build_with(settings, db.store.clone(), mailer)
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(app.run(shutdown.clone()));
    Running {
        base,
        shutdown,
        task,
        db,
        _outbox: outbox,
    }
}

async fn health_and_metrics_answer(db: TestDb) {
    let app = spawn(db).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));

    let metrics = client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"kairan_http_requests_total{method="GET",path="/healthz",status="200"}"#),
        "{text}"
    );
    assert!(text.contains("process_cpu_seconds_total"), "{text}");
    assert!(text.contains("process_resident_memory_bytes"), "{text}");

    app.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), app.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    app.db.cleanup().await;
}

#[tokio::test]
async fn health_and_metrics_answer_on_sqlite() {
    health_and_metrics_answer(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn health_and_metrics_answer_on_postgres() {
    health_and_metrics_answer(TestDb::postgres().await).await;
}

#[tokio::test]
async fn health_is_503_when_the_database_is_unreachable() {
    let app = spawn(TestDb::sqlite().await).await;
    app.db.store.close().await;
    let r = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(r.status(), 503);
    app.shutdown.cancel();
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = spawn(TestDb::sqlite().await).await;
    let body = vec![b'x'; 2 * 1024 * 1024];
    let r = reqwest::Client::new()
        .post(format!("{}/healthz", app.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    app.shutdown.cancel();
}

#[tokio::test]
async fn an_unknown_route_is_404() {
    let app = spawn(TestDb::sqlite().await).await;
    let r = reqwest::get(format!("{}/nope", app.base)).await.unwrap();
    assert_eq!(r.status(), 404);
    app.shutdown.cancel();
}

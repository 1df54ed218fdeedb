//! The HTTP shell on a real socket: health, metrics, body limits, graceful shutdown.

use std::time::Duration;

use kairan::startup::Application;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestDb, settings_with};

struct Running {
    base: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    db: TestDb,
    _outbox: tempfile::TempDir,
}

async fn spawn(db: TestDb) -> Running {
    spawn_with(db, &[]).await
}

async fn spawn_with(db: TestDb, env: &[(&str, &str)]) -> Running {
    let outbox = tempfile::tempdir().unwrap();
    let settings = settings_with(&db.url, outbox.path(), env);
    let mailer = kairan::mail::from_settings(&settings).unwrap();
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

const TOKEN: &str = "admin-token-0123456789";

#[tokio::test]
async fn the_admin_api_needs_the_bearer_token() {
    let app = spawn_with(TestDb::sqlite().await, &[("KAIRAN__ADMIN__TOKEN", TOKEN)]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/status", app.base);
    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let wrong = client
        .get(&url)
        .bearer_auth("admin-token-0123456780")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = client
        .get(&url)
        .basic_auth("admin", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let ok = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let v: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(v["campaigns"], serde_json::json!([]));
    app.shutdown.cancel();
}

#[tokio::test]
async fn without_an_admin_token_the_api_does_not_exist() {
    let app = spawn(TestDb::sqlite().await).await;
    let r = reqwest::Client::new()
        .get(format!("{}/api/status", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.shutdown.cancel();
}

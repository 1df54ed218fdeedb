//! The accounts use cases against both storage backends (issue 14): a setup link taken once
//! even by two racing requests, TOTP steps and recovery codes accepted once, the login
//! throttle's counts and window, sessions' idle and absolute limits, and the two-person rule
//! for sending (the requester cannot approve; a second approval finds it decided).

use chrono::Duration;
use kairan::app::accounts::{self, Actor, approval, login, users};
use kairan::domain::{Role, totp};

use crate::helpers::{TestDb, now, settings_for};

async fn setup_user(
    db: &TestDb,
    settings: &kairan::config::Settings,
    signer: &kairan::domain::Signer,
    email: &str,
    role: Role,
    password: &str,
) -> kairan::domain::User {
    let invited = users::add(
        db.store.as_ref(),
        settings,
        signer,
        email,
        role,
        Some("名前"),
        &Actor::cli(),
        now(),
    )
    .await
    .unwrap();
    let token = invited.setup_url.rsplit('/').next().unwrap().to_owned();
    match users::complete_setup(
        db.store.as_ref(),
        signer,
        &token,
        password,
        password,
        None,
        now(),
    )
    .await
    .unwrap()
    {
        users::SetupOutcome::Done(u) => u,
        other => panic!("{other:?}"),
    }
}

async fn contract(db: TestDb) {
    let outbox = tempfile::tempdir().unwrap();
    let settings = settings_for(&db.url, outbox.path());
    let signer = kairan::app::keys::signer(&settings, db.store.as_ref())
        .await
        .unwrap();
    let store = db.store.as_ref();

    // A setup link raced by two requests: exactly one sets the password.
    let invited = users::add(
        store,
        &settings,
        &signer,
        "sakura@example.jp",
        Role::Admin,
        None,
        &Actor::cli(),
        now(),
    )
    .await
    .unwrap();
    let token = invited.setup_url.rsplit('/').next().unwrap().to_owned();
    let (a, b) = tokio::join!(
        users::complete_setup(
            store,
            &signer,
            &token,
            "first-password-abc-1",
            "first-password-abc-1",
            None,
            now()
        ),
        users::complete_setup(
            store,
            &signer,
            &token,
            "other-password-xyz-2",
            "other-password-xyz-2",
            None,
            now()
        ),
    );
    let done = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|o| matches!(o, users::SetupOutcome::Done(_)))
        .count();
    assert_eq!(done, 1, "one of two racing setups wins");
    // The same address again is refused, and the queued mail is for a user.
    assert!(matches!(
        users::add(
            store,
            &settings,
            &signer,
            "SAKURA@example.jp",
            Role::Editor,
            None,
            &Actor::cli(),
            now()
        )
        .await,
        Err(accounts::AccountError::Exists)
    ));

    // TOTP: enrol, then each step and each recovery code works once.
    let admin = setup_user(
        &db,
        &settings,
        &signer,
        "kenji@example.jp",
        Role::Admin,
        "kenji-password-long-1",
    )
    .await;
    let (secret, uri) = accounts::totp::begin(store, &admin, "回覧板")
        .await
        .unwrap();
    assert!(uri.starts_with("otpauth://totp/"));
    let key = totp::base32_decode(&secret).unwrap();
    let t0 = now();
    let wrong = if totp::code_at(&key, t0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert!(
        accounts::totp::confirm(store, &admin, wrong, None, t0)
            .await
            .unwrap()
            .is_none()
    );
    let codes = accounts::totp::confirm(store, &admin, &totp::code_at(&key, t0), None, t0)
        .await
        .unwrap()
        .expect("the right code enables TOTP");
    assert_eq!(codes.len(), 10);
    let attempt = |code: Option<String>| login::Attempt {
        email: "kenji@example.jp".into(),
        password: "kenji-password-long-1".into(),
        code,
        ip: "192.0.2.10".into(),
    };
    // The enrolment's step is used: the same code fails; no code fails.
    assert!(
        login::login(
            store,
            &settings,
            &attempt(Some(totp::code_at(&key, t0))),
            t0
        )
        .await
        .unwrap()
        .is_err()
    );
    assert!(
        login::login(store, &settings, &attempt(None), t0)
            .await
            .unwrap()
            .is_err()
    );
    let t1 = t0 + Duration::seconds(30);
    let ok = login::login(
        store,
        &settings,
        &attempt(Some(totp::code_at(&key, t1))),
        t1,
    )
    .await
    .unwrap();
    assert!(ok.is_ok());
    assert!(
        login::login(
            store,
            &settings,
            &attempt(Some(totp::code_at(&key, t1))),
            t1
        )
        .await
        .unwrap()
        .is_err()
    );
    let recovery = codes[3].to_uppercase();
    assert!(
        login::login(store, &settings, &attempt(Some(recovery.clone())), t1)
            .await
            .unwrap()
            .is_ok()
    );
    assert!(
        login::login(store, &settings, &attempt(Some(recovery)), t1)
            .await
            .unwrap()
            .is_err(),
        "once"
    );

    // The throttle: failures counted per account, the window ends 15 minutes after the
    // oldest failure.
    let (acct, addr) = store
        .login_failures("kenji@example.jp", "192.0.2.10", t1 - Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(acct.count, 4);
    assert_eq!(addr.count, 4);
    let t2 = t1 + Duration::seconds(1);
    let bad = login::Attempt {
        password: "wrong-password-000".into(),
        ..attempt(None)
    };
    assert!(matches!(
        login::login(store, &settings, &bad, t2).await.unwrap(),
        Err(login::Refusal::Failed)
    ));
    let Err(login::Refusal::Throttled { retry_after }) = login::login(
        store,
        &settings,
        &attempt(Some(totp::code_at(&key, t2 + Duration::seconds(30)))),
        t2,
    )
    .await
    .unwrap() else {
        panic!("the sixth attempt is throttled");
    };
    assert!(
        retry_after > 14 * 60 && retry_after <= 15 * 60,
        "{retry_after}"
    );
    // After the window, the right credentials work again.
    let later = t0 + Duration::minutes(16);
    let session = login::login(
        store,
        &settings,
        &attempt(Some(totp::code_at(&key, later))),
        later,
    )
    .await
    .unwrap()
    .expect("the window has passed");

    // Sessions: valid, then idle too long, then gone.
    let auth = login::authenticate(store, &settings, &session.cookie, later)
        .await
        .unwrap()
        .expect("valid");
    assert!(login::csrf_matches(&auth, &session.csrf));
    assert!(!login::csrf_matches(&auth, "forged"));
    let idle =
        later + Duration::from_std(settings.console.session_idle).unwrap() + Duration::seconds(1);
    assert!(
        login::authenticate(store, &settings, &session.cookie, idle)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session(&accounts::digest(&session.cookie))
            .await
            .unwrap()
            .is_none(),
        "deleted"
    );

    // Old attempts and dead sessions are pruned.
    let gone = store
        .prune_logins(later + Duration::days(2), later + Duration::days(2))
        .await
        .unwrap();
    assert!(gone >= 9, "{gone}");
    let (acct, _) = store
        .login_failures("kenji@example.jp", "192.0.2.10", t0 - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(acct.count, 0);

    // The two-person rule.
    let editor = setup_user(
        &db,
        &settings,
        &signer,
        "yui@example.jp",
        Role::Editor,
        "yui-password-long-22",
    )
    .await;
    let other_admin = setup_user(
        &db,
        &settings,
        &signer,
        "ren@example.jp",
        Role::Admin,
        "ren-password-long-33",
    )
    .await;
    let req = approval::request(store, &editor, 42, None, now())
        .await
        .unwrap();
    assert!(
        approval::request(store, &admin, 42, None, now())
            .await
            .is_err(),
        "one pending request per issue"
    );
    assert!(matches!(
        approval::approve(store, &editor, req, None, now()).await,
        Err(accounts::AccountError::Forbidden(_))
    ));
    let own = approval::request(store, &admin, 43, None, now())
        .await
        .unwrap();
    assert_eq!(
        approval::approve(store, &admin, own, None, now())
            .await
            .unwrap()
            .unwrap_err(),
        approval::ApprovalError::SamePerson
    );
    let approved = approval::approve(store, &other_admin, req, None, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approved.decided_by, Some(other_admin.id));
    assert_eq!(
        approval::approve(store, &admin, req, None, now())
            .await
            .unwrap()
            .unwrap_err(),
        approval::ApprovalError::Decided
    );
    let pending: Vec<i64> = store
        .pending_send_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.issue_id)
        .collect();
    assert_eq!(pending, vec![43]);

    let audit = accounts::audit::list(store, None, 1000).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "user.added",
        "user.password_set",
        "user.totp_enabled",
        "login.ok",
        "login.failed",
        "login.throttled",
        "issue.send_requested",
        "issue.approved",
    ] {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }
    db.cleanup().await;
}

#[tokio::test]
async fn accounts_contract_on_sqlite() {
    contract(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn accounts_contract_on_postgres() {
    contract(TestDb::postgres().await).await;
}

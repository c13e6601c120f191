//! `hail users add-support`: the only way to make a support account, run
//! as an operator would (the binary, the password on standard input).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{io::Write, process::Stdio};

use hail_testkit::{json, spawn_app, TestApp};

/// Runs `hail users add-support` against the app's database; its exit code,
/// standard output and standard error.
fn add_support(app: &TestApp, email: &str, stdin: &str) -> (i32, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hail"))
        .args([
            "users",
            "add-support",
            "--email",
            email,
            "--name",
            "Sam Support",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HAIL_ENV", "dev")
        .env("DATABASE_URL", &app.config.database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hail");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_operator_makes_a_support_account_and_only_once() {
    let app = spawn_app().await;
    let email = format!("ops-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "a long enough secret";
    let (code, out, err) = add_support(&app, &email, &format!("{password}\n"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&email), "{out}");
    assert!(
        !out.contains(password) && !err.contains(password),
        "never echoed"
    );

    let response = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(response.status(), hail_testkit::reqwest::StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["role"], "support");

    // The same email again (in any case) is refused, and says why.
    let (code, _, err) = add_support(&app, &email.to_uppercase(), "another long secret\n");
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
}

#[tokio::test]
async fn add_support_refuses_a_short_password_a_bad_email_and_no_password() {
    let app = spawn_app().await;
    let email = format!("ops-{}@example.com", uuid::Uuid::new_v4().simple());
    let (code, _, err) = add_support(&app, &email, "short\n");
    assert_eq!(code, 1);
    assert!(
        err.contains("password must be 8 to 128 characters long"),
        "{err}"
    );
    let (code, _, err) = add_support(&app, "not-an-email", "a long enough secret\n");
    assert_eq!(code, 1);
    assert!(err.contains("email must be a valid email address"), "{err}");
    let (code, _, err) = add_support(&app, &email, "");
    assert_eq!(code, 2);
    assert!(err.contains("no password on standard input"), "{err}");
    // Nothing was made: the email is still free for a rider.
    let response = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": email, "password": "correct horse battery", "name": "R", "role": "rider"}),
        )
        .await;
    assert_eq!(
        response.status(),
        hail_testkit::reqwest::StatusCode::CREATED
    );
}

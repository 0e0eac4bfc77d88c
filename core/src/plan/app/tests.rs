use crate::app::Alphabet;
use crate::plan::model::EnvSource;
use crate::plan::tests::{errors_of, plan_of};

#[test]
fn app_secrets_become_env_vars_and_declared_secrets() {
    let plan = plan_of(
        "api: {image: a:1, secrets: [JWT_SECRET]}\nweb: {image: w:1, secrets: {API_KEY: {length: 64, alphabet: hex}}}\ndb: {type: postgres, secrets: [PEPPER]}\n",
    );
    let api = &plan.services["api"];
    let var = api.env.iter().find(|v| v.key == "JWT_SECRET").expect("env");
    assert!(matches!(&var.source, EnvSource::Secret(id) if id == "DEVSTACK_API_JWT_SECRET"));
    let def = |id: &str| plan.secrets.iter().find(|d| d.id == id).expect(id);
    let jwt = def("DEVSTACK_API_JWT_SECRET");
    assert_eq!(
        (jwt.length, jwt.alphabet, jwt.app),
        (32, Alphabet::Alphanumeric, true)
    );
    let key = def("DEVSTACK_WEB_API_KEY");
    assert_eq!(
        (key.length, key.alphabet, key.app),
        (64, Alphabet::Hex, true)
    );
    assert!(def("DEVSTACK_DB_PEPPER").app);
    assert!(
        !def("DEVSTACK_DB_PASSWORD").app,
        "catalog credentials are not app secrets"
    );
}

#[test]
fn bad_app_secrets_name_the_field_and_the_fix() {
    let errors = errors_of(
        "a: {image: a:1, secrets: [jwt-secret], env: {X: y}}\nb: {image: b:1, env: {K: v}, secrets: [K]}\nc: {image: c:1, secrets: {K: {length: 8}}}\nd: {type: postgres, secrets: [POSTGRES_PASSWORD]}\n",
    );
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.services.a.secrets[0]",
            "spec.services.b.secrets[0]",
            "spec.services.c.secrets.K.length",
            "spec.services.d.secrets[0]",
        ],
        "{errors}"
    );
    assert!(errors.0[0]
        .message
        .contains("not an environment variable name"));
    assert!(errors.0[2].message.contains("16-256"));
}

#[test]
fn connection_env_maps_a_dependency_output_under_the_programs_name() {
    let plan = plan_of(
        "db: {type: postgres}\napi: {image: a:1, dependsOn: [db], connectionEnv: {DB_NAME: db.DB}}\n",
    );
    let api = &plan.services["api"];
    let var = api.env.iter().find(|v| v.key == "DB_NAME").expect("mapped");
    let EnvSource::Connection {
        service,
        key,
        value,
    } = &var.source
    else {
        panic!("DB_NAME is a connection value");
    };
    assert_eq!((service.as_str(), key.as_str()), ("db", "DB_DB"));
    assert_eq!(value, &plan.services["db"].connection["DB_DB"]);
    // Its own key stays too.
    assert!(api.env.iter().any(|v| v.key == "DB_DB"));
}

#[test]
fn connection_env_errors_guess_the_service_and_the_output() {
    let errors = errors_of(
        "db: {type: postgres}\nother: {type: redis}\napi: {image: a:1, dependsOn: [db], connectionEnv: {A: dbb.DB, B: db.URI, C: other.URL, D: nodot, E: db.URL}, env: {E: x}}\n",
    );
    let messages: Vec<String> = errors
        .0
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(
        messages[0].starts_with("spec.services.api.connectionEnv.A")
            && messages[0].contains("did you mean \"db\""),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("did you mean \"URL\""),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].contains("add \"other\" to dependsOn"),
        "{}",
        messages[2]
    );
    assert!(
        messages[3].contains("<service>.<OUTPUT>"),
        "{}",
        messages[3]
    );
    assert!(messages[4].contains("already set"), "{}", messages[4]);
}

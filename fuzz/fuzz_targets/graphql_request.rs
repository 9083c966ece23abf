//! The GraphQL request path, in process: any bytes as the HTTP body (a JSON GraphQL request,
//! as `/graphql` decodes it) or, failing that, as a query document, executed by the real
//! schema with its request policy (depth, complexity, alias and nesting limits) as anonymous or
//! as the bank. Nothing panics, and every error carries a documented `extensions.code`.
//!
//! The schema runs without a database: resolvers that need one answer `INTERNAL`, which is what
//! they would answer if the database were gone; what is fuzzed is parsing, validation, limits,
//! guards, argument coercion and error coding.

#![no_main]
// The schema's types nest deeper than the default limit (as in api/src/lib.rs).
#![recursion_limit = "256"]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lvyue_api::config::Limits;
use lvyue_api::graphql::limits::QueryLimits;
use lvyue_api::graphql::schema::{AppSchema, builder};
use lvyue_domain::ErrorCode;
use lvyue_domain::principal::Principal;

fn setup() -> &'static (AppSchema, tokio::runtime::Runtime) {
    static S: OnceLock<(AppSchema, tokio::runtime::Runtime)> = OnceLock::new();
    S.get_or_init(|| {
        let schema = builder(QueryLimits::from(&Limits::default()), None).finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        (schema, rt)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&who, body)) = data.split_first() else {
        return;
    };
    let request = match serde_json::from_slice::<async_graphql::Request>(body) {
        Ok(r) => r,
        Err(_) => async_graphql::Request::new(String::from_utf8_lossy(body)),
    };
    let request = if who & 1 == 1 {
        request.data(Principal::bank("fuzz"))
    } else {
        request
    };
    let (schema, rt) = setup();
    let response = rt.block_on(schema.execute(request));
    for e in &response.errors {
        let code = e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .map(|v| v.to_string().trim_matches('"').to_owned());
        assert!(
            code.as_deref().is_some_and(|c| ErrorCode::named(c).is_some()),
            "an error without a documented code: {e:?}"
        );
    }
    // The response always serializes (what the HTTP layer does next).
    serde_json::to_vec(&response).expect("response serializes");
});

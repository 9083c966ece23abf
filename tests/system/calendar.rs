//! The holiday calendar through GraphQL: money taken on New Year's Eve before the next year is
//! loaded settles on a provisional date, the bank loads the year (only the bank, only a valid
//! year), the date is re-planned, and the reach shows in `serverStatus` and `/metrics`.

use serde_json::json;

use lvyue_domain::clock::Timestamp;
use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank, first_code};
use crate::world::{bank_do, driving_school, paid_order, shenzhen_policy};

const PAYMENTS: &str =
    "query($id: ID!) { order(id: $id) { payments { settleDate settleDateProvisional } } }";

const LOAD: &str = "mutation($days: [HolidayDayInput!]!, $k: String!) {
    loadHolidayCalendar(year: 2027, days: $days, source: \"test notice\", idempotencyKey: $k) {
      changed replannedPayments replannedRefunds replanningContinues
      calendar { year loaded source days { date name offDay } } } }";

async fn money_on_new_years_eve_settles_provisionally_until_the_year_is_loaded(backend: Backend) {
    // Thursday 2026-12-31, 10:00 China time.
    let eve = Timestamp::china_midnight("2026-12-31".parse().unwrap()).plus_seconds(10 * 3600);
    let Some((srv, _clock)) = TestServer::start_at(backend, eve).await else {
        return;
    };
    // On its last loaded day the bank has been warned (by the scheduler's pass at start).
    let (_, metrics) = srv.get("/metrics").await;
    assert!(
        metrics.contains("lvyue_holiday_calendar_days_left 0"),
        "{metrics}"
    );
    let warned = bank_do(
        &srv,
        "{ alerts(first: 10) { edges { node { kind severity } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        warned["alerts"]["edges"],
        json!([{"node": {"kind": "CALENDAR_ENDING", "severity": "WARNING"}}])
    );
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "1000.00").await;
    let payments = |who| {
        let (srv, order) = (&srv, &order);
        async move {
            TestServer::ok(srv.gql(Some(&who), PAYMENTS, json!({"id": order})).await)["order"]
                ["payments"][0]
                .clone()
        }
    };
    assert_eq!(
        payments(w.payer_principal()).await,
        json!({"settleDate": "2027-01-04", "settleDateProvisional": true})
    );

    // A made-up 2027 for the test: 4 January off, Saturday 9 January worked instead.
    let days = json!([
        {"date": "2027-01-01", "name": "元旦", "offDay": true},
        {"date": "2027-01-04", "name": "元旦", "offDay": true},
        {"date": "2027-01-09", "name": "元旦", "offDay": false}
    ]);
    let as_merchant = srv
        .gql(
            Some(&w.merchant_principal()),
            LOAD,
            json!({"days": days, "k": "cal-m"}),
        )
        .await;
    assert_eq!(first_code(&as_merchant), "FORBIDDEN");
    let weekday_worked = json!([
        {"date": "2027-01-01", "name": "元旦", "offDay": true},
        {"date": "2027-01-05", "name": "元旦", "offDay": false}
    ]);
    let bad = srv
        .gql(
            Some(&bank()),
            LOAD,
            json!({"days": weekday_worked, "k": "cal-bad"}),
        )
        .await;
    assert_eq!(first_code(&bad), "VALIDATION");
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2027-01-05"),
        "{bad}"
    );
    assert_eq!(
        payments(w.payer_principal()).await["settleDateProvisional"],
        true
    );

    let loaded =
        bank_do(&srv, LOAD, json!({"days": days, "k": "cal-1"})).await["loadHolidayCalendar"]
            .clone();
    assert_eq!(
        (
            &loaded["changed"],
            &loaded["replannedPayments"],
            &loaded["replannedRefunds"],
            &loaded["replanningContinues"],
            &loaded["calendar"]["loaded"],
            &loaded["calendar"]["source"]
        ),
        (
            &json!(true),
            &json!(1),
            &json!(0),
            &json!(false),
            &json!(true),
            &json!("test notice")
        )
    );
    assert_eq!(
        payments(w.merchant_principal()).await,
        json!({"settleDate": "2027-01-05", "settleDateProvisional": false})
    );
    // The same load under a new key changes nothing.
    let again = bank_do(&srv, LOAD, json!({"days": days, "k": "cal-2"})).await;
    assert_eq!(again["loadHolidayCalendar"]["changed"], false);

    // Any signed-in party reads a year; one not loaded shows the statutory holidays by rule.
    let y2028 = TestServer::ok(
        srv.gql(
            Some(&w.payer_principal()),
            "{ holidayCalendar(year: 2028) { loaded source days { date name offDay } } }",
            json!({}),
        )
        .await,
    )["holidayCalendar"]
        .clone();
    assert_eq!(
        (&y2028["loaded"], &y2028["source"]),
        (&json!(false), &json!(null))
    );
    assert!(
        y2028["days"]
            .as_array()
            .unwrap()
            .contains(&json!({"date": "2028-01-26", "name": "春节", "offDay": true})),
        "{y2028}"
    );

    let status = bank_do(
        &srv,
        "{ serverStatus { holidayCalendar { loadedYears lastDay daysLeft ending } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        status["serverStatus"]["holidayCalendar"],
        json!({"loadedYears": [2024, 2025, 2026, 2027], "lastDay": "2027-12-31", "daysLeft": 365, "ending": false})
    );
    let (_, metrics) = srv.get("/metrics").await;
    assert!(
        metrics.contains("lvyue_holiday_calendar_days_left 365"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_on_new_years_eve_settles_provisionally_until_the_year_is_loaded_sqlite() {
    money_on_new_years_eve_settles_provisionally_until_the_year_is_loaded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_on_new_years_eve_settles_provisionally_until_the_year_is_loaded_postgres() {
    money_on_new_years_eve_settles_provisionally_until_the_year_is_loaded(Backend::Postgres).await;
}

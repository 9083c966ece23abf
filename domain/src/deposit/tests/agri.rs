//! Agricultural wholesale markets (智慧农批) and rural property-rights trading (农村产权): trade
//! deposits (保证金) through the same deposit primitives, trade settlement through an ordinary
//! escrow order, and the agriculture department's view of both.

use super::*;
use crate::order::{ConfirmAs, ConfirmMilestone};
use crate::order_record::{OrderStatus, get_order};
use crate::queries::{OrderFilter, orders};

/// A trade deposit: only the market (or the bank) releases it, forfeited on default; a trade
/// is paid into escrow and released in one stage when the buyer confirms delivery.
fn trade_policy() -> Value {
    json!({
        "milestones": [{"name": "确认收货", "share_bp": 10000, "confirm_by": ["PAYER"]}],
        "deposit": {"unbound_daily_cap": "10000.00", "beneficiary_releases": true, "forfeit_on_default": true}
    })
}

struct Market {
    w: World,
    agriculture: PartyRecord,
    scheme: SchemeRecord,
    market: PartyRecord,
    buyer: PartyRecord,
}

async fn market(db: &TestDb, industry: Industry, name: &str) -> Market {
    let w = World::new(db).await;
    let agriculture = w
        .regulator(&["3201"], &[Industry::AgriMarket, Industry::RuralProperty])
        .await;
    let scheme = w
        .scheme(industry, "320100", Some(agriculture.id), trade_policy())
        .await;
    let market = w.merchant(name, "320115", industry).await;
    w.enroll(&scheme, &market).await;
    let buyer = w.payer("慕容复").await;
    Market {
        w,
        agriculture,
        scheme,
        market,
        buyer,
    }
}

db_test!(
    a_wholesale_trade_settles_through_escrow_and_the_market_then_releases_the_buyers_deposit,
    |db: TestDb| async move {
        let mk = market(&db, Industry::AgriMarket, "南京众彩农副产品批发市场").await;
        let w = &mk.w;
        let buyer = w.as_party(Role::Payer, mk.buyer.id);
        let acc = w
            .run_as(
                &buyer,
                OpenDepositAccount {
                    scheme: mk.scheme.id,
                    owner: mk.buyer.id,
                    bound_card: CARD.into(),
                },
            )
            .await
            .unwrap();
        w.run(FundDeposit {
            account: acc.account,
            amount: m("5000.00"),
            source_account: "6222020000000000018".into(),
            external_ref: "NP-1".into(),
        })
        .await
        .unwrap();
        let deposit = w
            .run_as(
                &buyer,
                FreezeDeposit {
                    account: acc.account,
                    beneficiary: mk.market.id,
                    amount: m("5000.00"),
                    reference: "蔬菜交易 NP-20260302-7".into(),
                },
            )
            .await
            .unwrap();
        // The deposit secures the trade: the buyer cannot lift it.
        assert_eq!(
            code(
                w.run_as(&buyer, UnfreezeDeposit { hold: deposit.hold })
                    .await
            ),
            ErrorCode::Forbidden
        );
        // The trade: an ordinary escrow order, paid, settled T+1, released on delivery.
        let order = w.order(&mk.scheme, &mk.market, &mk.buyer, "30000.00").await;
        w.pay(&order, "30000.00").await;
        w.pass_days(1).await;
        let out = w
            .run_as(
                &buyer,
                ConfirmMilestone {
                    order: order.id,
                    index: 0,
                    as_: ConfirmAs::Payer,
                    approve: true,
                    evidence: "货已验收".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            out.released.iter().map(|t| t.amount).collect::<Vec<_>>(),
            [m("30000.00")]
        );
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().status,
            OrderStatus::Completed
        );
        // After the trade the market releases the deposit, and the buyer takes it back.
        w.run_as(
            &w.as_party(Role::Merchant, mk.market.id),
            UnfreezeDeposit { hold: deposit.hold },
        )
        .await
        .unwrap();
        w.run_as(
            &buyer,
            WithdrawDeposit {
                account: acc.account,
                amount: m("5000.00"),
            },
        )
        .await
        .unwrap();
        // The agriculture department sees the trade and the deposit; the housing bureau does not.
        let page = Page::new(None, 10).unwrap();
        let agri = w.as_regulator(&mk.agriculture);
        assert_eq!(
            orders(&db.db, &agri, &OrderFilter::default(), page)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let seen = deposit_freezes(&db.db, &agri, &DepositFreezeFilter::default(), page)
            .await
            .unwrap();
        assert_eq!(
            seen.items.iter().map(|f| f.status).collect::<Vec<_>>(),
            [FreezeStatus::Unfrozen]
        );
        let housing = w.regulator(&["3201"], &[Industry::HousingDeposit]).await;
        let housing = w.as_regulator(&housing);
        assert!(
            orders(&db.db, &housing, &OrderFilter::default(), page)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            deposit_freezes(&db.db, &housing, &DepositFreezeFilter::default(), page)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            code(deposit_account_visible(&db.db, &housing, acc.account).await),
            ErrorCode::NotFound
        );
        clean(&db).await;
    }
);

db_test!(
    a_rural_property_bidder_who_defaults_forfeits_the_deposit_to_the_exchange,
    |db: TestDb| async move {
        let mk = market(&db, Industry::RuralProperty, "南京市农村产权交易中心").await;
        let w = &mk.w;
        let bidder = w.as_party(Role::Payer, mk.buyer.id);
        let acc = w
            .run(OpenDepositAccount {
                scheme: mk.scheme.id,
                owner: mk.buyer.id,
                bound_card: CARD.into(),
            })
            .await
            .unwrap();
        // ¥20,000 is over the daily cap from elsewhere: it comes from the bound card.
        assert_eq!(
            code(
                w.run(FundDeposit {
                    account: acc.account,
                    amount: m("20000.00"),
                    source_account: "6222020000000000018".into(),
                    external_ref: "RP-0".into()
                })
                .await
            ),
            ErrorCode::LimitExceeded
        );
        w.run(FundDeposit {
            account: acc.account,
            amount: m("20000.00"),
            source_account: CARD.into(),
            external_ref: "RP-1".into(),
        })
        .await
        .unwrap();
        let deposit = w
            .run_as(
                &bidder,
                FreezeDeposit {
                    account: acc.account,
                    beneficiary: mk.market.id,
                    amount: m("20000.00"),
                    reference: "江宁区某村土地经营权流转 第3号标".into(),
                },
            )
            .await
            .unwrap();
        // Only the bank executes a forfeiture.
        let forfeit = ForfeitDeposit {
            hold: deposit.hold,
            reason: "中标后未按期签约".into(),
        };
        assert_eq!(
            code(w.run_as(&bidder, forfeit.clone()).await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(
                w.run_as(&w.as_party(Role::Merchant, mk.market.id), forfeit.clone())
                    .await
            ),
            ErrorCode::Forbidden
        );
        let done = w.run(forfeit.clone()).await.unwrap();
        assert_eq!(done.status, FreezeStatus::Forfeited);
        let payable = enrollment_of(&db.db, mk.market.id, mk.scheme.id)
            .await
            .unwrap()
            .payable_account;
        assert_eq!(
            get_account(&db.db, payable).await.unwrap().balance_fen,
            m("20000.00").fen()
        );
        // The money is gone from the bidder's account; it cannot be forfeited twice.
        let now = deposit_account_visible(&db.db, &bidder, acc.account)
            .await
            .unwrap();
        assert_eq!((now.balance, now.frozen), (Money::ZERO, Money::ZERO));
        assert_eq!(code(w.run(forfeit).await), ErrorCode::InvalidState);
        // The agriculture department sees the forfeited deposit.
        let agri = w.as_regulator(&mk.agriculture);
        let f = deposit_freeze_visible(&db.db, &agri, deposit.hold)
            .await
            .unwrap();
        assert_eq!(
            (f.status, f.industry),
            (FreezeStatus::Forfeited, Industry::RuralProperty)
        );
        clean(&db).await;
    }
);

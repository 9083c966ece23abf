//! Subscription deposits (房e存) as the buyer, the developer, the housing bureau and the bank
//! use them, on SQLite and (when configured) PostgreSQL.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;
use crate::audit::audit;
use crate::clock::Timestamp;
use crate::db_test;
use crate::error::ErrorCode;
use crate::ledger::{HoldStatus, get_hold};
use crate::page::Page;
use crate::party::PartyRecord;
use crate::principal::Principal;
use crate::scheme::enrollment_of;
use crate::testing::TestDb;
use crate::testing::world::World;

mod agri;

/// The UnionPay test card of docs/domain.md: the buyer's own Type I card.
const CARD: &str = "6216261000000000018";

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

/// 房e存: ¥10,000 a day from sources other than the bound card; the buyer may unfreeze;
/// never forfeited. (The milestone applies to orders, which this scheme does not use.)
fn nanjing_subscription() -> Value {
    json!({
        "milestones": [{"name": "首付款", "share_bp": 10000, "confirm_by": ["EVIDENCE"]}],
        "deposit": {"unbound_daily_cap": "10000.00"}
    })
}

struct Sales {
    w: World,
    bureau: PartyRecord,
    scheme: SchemeRecord,
    developer: PartyRecord,
    buyer: PartyRecord,
}

impl Sales {
    fn buyer(&self) -> Principal {
        self.w.as_party(Role::Payer, self.buyer.id)
    }

    fn developer(&self) -> Principal {
        self.w.as_party(Role::Merchant, self.developer.id)
    }

    async fn open(&self) -> DepositAccountRecord {
        self.w
            .run_as(
                &self.buyer(),
                OpenDepositAccount {
                    scheme: self.scheme.id,
                    owner: self.buyer.id,
                    bound_card: CARD.into(),
                },
            )
            .await
            .unwrap()
    }

    async fn fund(
        &self,
        account: AccountId,
        amount: &str,
        source: &str,
    ) -> DomainResult<DepositFunded> {
        let n = self.w.escrow.subscribe_log_size().borrow().to_owned();
        self.w
            .run(FundDeposit {
                account,
                amount: m(amount),
                source_account: source.into(),
                external_ref: format!("IN{n}"),
            })
            .await
    }

    async fn freeze(&self, account: AccountId, amount: &str) -> DepositFreezeRecord {
        self.w
            .run_as(
                &self.buyer(),
                FreezeDeposit {
                    account,
                    beneficiary: self.developer.id,
                    amount: m(amount),
                    reference: "某某府二期认筹".into(),
                },
            )
            .await
            .unwrap()
    }
}

async fn sales(db: &TestDb) -> Sales {
    let w = World::new(db).await;
    let bureau = w.regulator(&["3201"], &[Industry::HousingDeposit]).await;
    let scheme = w
        .scheme(
            Industry::HousingDeposit,
            "320100",
            Some(bureau.id),
            nanjing_subscription(),
        )
        .await;
    let developer = w
        .merchant(
            "南京某某房地产开发有限公司",
            "320102",
            Industry::HousingDeposit,
        )
        .await;
    w.enroll(&scheme, &developer).await;
    let buyer = w.payer("段正淳").await;
    Sales {
        w,
        bureau,
        scheme,
        developer,
        buyer,
    }
}

async fn clean(db: &TestDb) {
    let r = audit(&db.db, None).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.breaches);
}

fn code<T: std::fmt::Debug>(r: DomainResult<T>) -> ErrorCode {
    r.unwrap_err().code()
}

db_test!(
    a_subscription_deposit_stays_in_the_buyers_own_account_and_becomes_the_down_payment,
    |db: TestDb| async move {
        let s = sales(&db).await;
        let w = &s.w;
        let acc = s.open().await;
        let account = get_account(&db.db, acc.account).await.unwrap();
        assert_eq!(
            (account.kind, account.owner, account.level),
            (AccountKind::Deposit, Some(s.buyer.id), 2)
        );
        assert_eq!(acc.bound_card, "621626*********0018");
        // From the bound card there is no daily cap.
        let f = s.fund(acc.account, "200000.00", CARD).await.unwrap();
        assert!(f.bound);
        let frozen = s.freeze(acc.account, "200000.00").await;
        assert_eq!(
            (frozen.status, frozen.beneficiary, frozen.amount),
            (FreezeStatus::Frozen, s.developer.id, m("200000.00"))
        );
        // The money has not moved: it is still in the buyer's account, only frozen.
        let now = deposit_account_visible(&db.db, &s.buyer(), acc.account)
            .await
            .unwrap();
        assert_eq!(
            (now.balance, now.frozen, now.available()),
            (m("200000.00"), m("200000.00"), Money::ZERO)
        );
        assert_eq!(
            code(
                w.run_as(
                    &s.buyer(),
                    WithdrawDeposit {
                        account: acc.account,
                        amount: m("0.01")
                    }
                )
                .await
            ),
            ErrorCode::InsufficientFunds
        );
        // The developer sees the freeze that names it, but cannot take the money itself.
        let seen = deposit_freezes(
            &db.db,
            &s.developer(),
            &DepositFreezeFilter::default(),
            Page::new(None, 10).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(seen.items.len(), 1);
        assert_eq!(
            code(
                w.run_as(
                    &s.developer(),
                    ConvertDeposit {
                        hold: frozen.hold,
                        contract_ref: "C-9".into()
                    }
                )
                .await
            ),
            ErrorCode::Forbidden
        );
        // On purchase it becomes the down payment.
        let done = w
            .run_as(
                &s.buyer(),
                ConvertDeposit {
                    hold: frozen.hold,
                    contract_ref: "宁房买2026-00456".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (done.status, done.closing_ref.as_deref()),
            (FreezeStatus::Converted, Some("宁房买2026-00456"))
        );
        let payable = enrollment_of(&db.db, s.developer.id, s.scheme.id)
            .await
            .unwrap()
            .payable_account;
        assert_eq!(
            get_account(&db.db, payable).await.unwrap().balance_fen,
            m("200000.00").fen()
        );
        assert_eq!(
            get_hold(&db.db, frozen.hold).await.unwrap().status,
            HoldStatus::Consumed
        );
        let now = deposit_account_visible(&db.db, &s.buyer(), acc.account)
            .await
            .unwrap();
        assert_eq!((now.balance, now.frozen), (Money::ZERO, Money::ZERO));
        // Converted once: not again, and not unfrozen afterwards.
        assert_eq!(
            code(
                w.run(ConvertDeposit {
                    hold: frozen.hold,
                    contract_ref: "C-9".into()
                })
                .await
            ),
            ErrorCode::InvalidState
        );
        assert_eq!(
            code(w.run(UnfreezeDeposit { hold: frozen.hold }).await),
            ErrorCode::InvalidState
        );
        clean(&db).await;
    }
);

db_test!(
    an_unfrozen_deposit_is_the_buyers_again_to_withdraw,
    |db: TestDb| async move {
        let s = sales(&db).await;
        let w = &s.w;
        let acc = s.open().await;
        s.fund(acc.account, "50000.00", CARD).await.unwrap();
        let first = s.freeze(acc.account, "30000.00").await;
        let second = s.freeze(acc.account, "20000.00").await;
        // The buyer may give up its place at any time; the developer may release it after the
        // lottery.
        w.run_as(&s.buyer(), UnfreezeDeposit { hold: first.hold })
            .await
            .unwrap();
        w.run_as(&s.developer(), UnfreezeDeposit { hold: second.hold })
            .await
            .unwrap();
        let out = w
            .run_as(
                &s.buyer(),
                WithdrawDeposit {
                    account: acc.account,
                    amount: m("50000.00"),
                },
            )
            .await
            .unwrap();
        assert_eq!((out.balance, out.frozen), (Money::ZERO, Money::ZERO));
        let cards =
            lvyue_entity::system_account::Entity::find_by_id(format!("EXTERNAL:{BOUND_CARDS}"))
                .one(&db.db)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(
            get_account(&db.db, AccountId(cards.account_id))
                .await
                .unwrap()
                .balance_fen,
            0
        );
        clean(&db).await;
    }
);

db_test!(
    the_ten_thousand_and_first_yuan_of_a_china_day_from_an_unbound_source_is_refused,
    |db: TestDb| async move {
        let s = sales(&db).await;
        let w = &s.w;
        let acc = s.open().await;
        let other = "6222020000000000018";
        // 23:30 on 2 March, China time.
        w.clock.set(
            Timestamp::china_midnight("2026-03-02".parse().unwrap()).plus_seconds(23 * 3600 + 1800),
        );
        s.fund(acc.account, "6000.00", other).await.unwrap();
        let f = s
            .fund(acc.account, "4000.00", "ICBC4301000000123")
            .await
            .unwrap();
        assert_eq!((f.bound, f.unbound_today), (false, m("10000.00")));
        let err = s.fund(acc.account, "0.01", other).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert!(err.to_string().contains("10000.00"), "{err}");
        // The bound card is not capped.
        s.fund(acc.account, "50000.00", CARD).await.unwrap();
        // 00:30 on 3 March in China (still 2 March in UTC): a new day, a new ¥10,000.
        w.clock
            .set(Timestamp::china_midnight("2026-03-03".parse().unwrap()).plus_seconds(1800));
        let f = s.fund(acc.account, "10000.00", other).await.unwrap();
        assert_eq!(f.unbound_today, m("10000.00"));
        assert_eq!(
            code(s.fund(acc.account, "0.01", other).await),
            ErrorCode::LimitExceeded
        );
        assert_eq!(
            deposit_account_visible(&db.db, &s.buyer(), acc.account)
                .await
                .unwrap()
                .balance,
            m("70000.00")
        );
        // The same transfer is not recorded twice.
        let dup = FundDeposit {
            account: acc.account,
            amount: m("1.00"),
            source_account: CARD.into(),
            external_ref: "SAME-1".into(),
        };
        w.run(dup.clone()).await.unwrap();
        assert_eq!(code(w.run(dup).await), ErrorCode::Conflict);
        clean(&db).await;
    }
);

db_test!(
    a_subscription_deposit_is_never_forfeited_and_is_seen_only_in_scope,
    |db: TestDb| async move {
        let s = sales(&db).await;
        let w = &s.w;
        let acc = s.open().await;
        s.fund(acc.account, "20000.00", CARD).await.unwrap();
        let frozen = s.freeze(acc.account, "20000.00").await;
        assert_eq!(
            code(
                w.run(ForfeitDeposit {
                    hold: frozen.hold,
                    reason: "未按期签约".into()
                })
                .await
            ),
            ErrorCode::InvalidState
        );
        // Another buyer can neither see nor touch this account or freeze.
        let other = w.payer("刀白凤").await;
        let them = w.as_party(Role::Payer, other.id);
        assert_eq!(
            code(deposit_account_visible(&db.db, &them, acc.account).await),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(w.run_as(&them, UnfreezeDeposit { hold: frozen.hold }).await),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(
                w.run_as(
                    &them,
                    WithdrawDeposit {
                        account: acc.account,
                        amount: m("1.00")
                    }
                )
                .await
            ),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(
                w.run_as(
                    &them,
                    OpenDepositAccount {
                        scheme: s.scheme.id,
                        owner: s.buyer.id,
                        bound_card: CARD.into()
                    }
                )
                .await
            ),
            ErrorCode::Forbidden
        );
        // One account per buyer and scheme; a bound card must be a card.
        assert_eq!(
            code(
                w.run_as(
                    &s.buyer(),
                    OpenDepositAccount {
                        scheme: s.scheme.id,
                        owner: s.buyer.id,
                        bound_card: CARD.into()
                    }
                )
                .await
            ),
            ErrorCode::Conflict
        );
        assert_eq!(
            code(
                w.run_as(
                    &them,
                    OpenDepositAccount {
                        scheme: s.scheme.id,
                        owner: other.id,
                        bound_card: "6216261000000000019".into()
                    }
                )
                .await
            ),
            ErrorCode::Validation
        );
        // The housing bureau sees the deposits of its city; another city's does not.
        let bureau = w.as_regulator(&s.bureau);
        let page = Page::new(None, 10).unwrap();
        assert_eq!(
            deposit_accounts(&db.db, &bureau, None, page)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        assert_eq!(
            deposit_freeze_visible(&db.db, &bureau, frozen.hold)
                .await
                .unwrap()
                .amount,
            m("20000.00")
        );
        let suzhou = w.regulator(&["3205"], &[Industry::HousingDeposit]).await;
        let suzhou = w.as_regulator(&suzhou);
        assert!(
            deposit_accounts(&db.db, &suzhou, None, page)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            deposit_freezes(&db.db, &suzhou, &DepositFreezeFilter::default(), page)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        clean(&db).await;
    }
);

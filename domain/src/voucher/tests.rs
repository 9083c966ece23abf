//! Housing vouchers as the housing bureau, holders, heirs, developers and the bank use them,
//! rule by rule, on SQLite and (when configured) PostgreSQL.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;
use crate::audit::audit;
use crate::db_test;
use crate::error::ErrorCode;
use crate::ledger::{HoldStatus, get_hold};
use crate::order::{ConfirmAs, ConfirmMilestone, ExecuteRefund, RequestRefund};
use crate::order_record::{OrderStatus, get_order};
use crate::page::Page;
use crate::party::PartyRecord;
use crate::principal::{Industry, Principal};
use crate::scheme::{SchemeRecord, enrollment_of};
use crate::testing::TestDb;
use crate::testing::world::World;

mod expiry;
mod rules;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

/// Xiamen-style terms: 24 months, 5% in the first 12, 2% in months 13–24, cash-out at
/// expiry, an alert 30 days before; developers paid 30/60/10 (research notes §1.7).
pub(super) fn xiamen(cash_out: bool) -> Value {
    json!({
        "milestones": [
            {"name": "签约", "share_bp": 3000, "auto_after_days": 0},
            {"name": "交房", "share_bp": 6000, "confirm_by": ["PAYER"]},
            {"name": "交房一年", "share_bp": 1000, "auto_after_days": 365}
        ],
        "voucher": {
            "validity_months": 24,
            "reward_tiers": [{"months": 12, "reward_bp": 500}, {"months": 24, "reward_bp": 200}],
            "cash_out_on_expiry": cash_out,
            "expiry_notice_days": 30
        }
    })
}

pub(super) struct Housing {
    pub w: World,
    pub bureau: PartyRecord,
    pub scheme: SchemeRecord,
    pub developer: PartyRecord,
    pub holder: PartyRecord,
    pub project: VoucherProjectRecord,
}

impl Housing {
    pub fn bureau(&self) -> Principal {
        self.w.as_regulator(&self.bureau)
    }

    pub fn as_payer(&self, p: &PartyRecord) -> Principal {
        self.w.as_party(Role::Payer, p.id)
    }

    pub fn holder(&self) -> Principal {
        self.as_payer(&self.holder)
    }

    /// The bureau issues a voucher to the holder.
    pub async fn issue(&self, amount: &str) -> VoucherRecord {
        self.w
            .run_as(
                &self.bureau(),
                IssueVoucher {
                    project: self.project.account,
                    holder: self.holder.id,
                    amount: m(amount),
                },
            )
            .await
            .unwrap()
    }

    pub async fn redeem(
        &self,
        who: &Principal,
        v: &VoucherRecord,
        amount: &str,
    ) -> DomainResult<Redemption> {
        self.w
            .run_as(
                who,
                RedeemVoucher {
                    voucher: v.id,
                    developer: self.developer.id,
                    amount: m(amount),
                    contract_ref: "宁房买2026-00123".into(),
                },
            )
            .await
    }
}

/// Nanjing's housing bureau, a voucher scheme with a funded project and subsidy pool, a
/// developer enrolled in it, and an expropriated resident.
pub(super) async fn housing(db: &TestDb, policy: Value) -> Housing {
    let w = World::new(db).await;
    let bureau = w.regulator(&["3201"], &[Industry::HousingVoucher]).await;
    let scheme = w
        .scheme(Industry::HousingVoucher, "320100", Some(bureau.id), policy)
        .await;
    let developer = w
        .merchant("南京某某置业有限公司", "320102", Industry::HousingVoucher)
        .await;
    w.enroll(&scheme, &developer).await;
    let holder = w.payer("段誉").await;
    let project = w
        .run_as(
            &w.as_regulator(&bureau),
            CreateVoucherProject {
                scheme: scheme.id,
                name: "玄武区某某片区征收项目".into(),
                developer: None,
            },
        )
        .await
        .unwrap();
    w.run(FundVoucherProject {
        project: project.account,
        amount: m("2000000.00"),
        reference: "财政拨付2026-001".into(),
    })
    .await
    .unwrap();
    w.run(FundVoucherSubsidy {
        scheme: scheme.id,
        amount: m("100000.00"),
        reference: "奖励资金2026-001".into(),
    })
    .await
    .unwrap();
    Housing {
        w,
        bureau,
        scheme,
        developer,
        holder,
        project,
    }
}

pub(super) async fn clean(db: &TestDb) {
    let r = audit(&db.db, None).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.breaches);
}

pub(super) fn code<T: std::fmt::Debug>(r: DomainResult<T>) -> ErrorCode {
    r.unwrap_err().code()
}

db_test!(
    the_housing_bureau_issues_a_voucher_as_a_level_three_sub_account_of_its_project,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let v = h.issue("800000.00").await;
        assert!(v.number.starts_with("FP20260302"), "{}", v.number);
        assert_eq!(
            (v.face, v.balance, v.status),
            (m("800000.00"), m("800000.00"), VoucherStatus::Active)
        );
        assert!(v.transferable);
        let project = get_account(&db.db, v.project).await.unwrap();
        let own = get_account(&db.db, v.account).await.unwrap();
        assert_eq!((project.level, own.level), (2, 3));
        assert_eq!(
            (own.kind, own.owner),
            (AccountKind::Voucher, Some(h.holder.id))
        );
        assert_eq!(project.balance_fen, m("1200000.00").fen());
        // Valid 24 calendar months (China time) from issue.
        assert_eq!(v.expires_at, plus_months(v.issued_at, 24).unwrap());
        assert_eq!(v.expires_at.china_date().to_string(), "2028-03-02");
        // The bank may issue on the bureau's instruction.
        w.run(IssueVoucher {
            project: h.project.account,
            holder: h.holder.id,
            amount: m("1.00"),
        })
        .await
        .unwrap();
        // A bureau of another city finds no such project; a holder may not issue; nor may
        // the bureau issue more than the project holds.
        let suzhou = w.regulator(&["3205"], &[Industry::HousingVoucher]).await;
        let issue = |amount: &str| IssueVoucher {
            project: h.project.account,
            holder: h.holder.id,
            amount: m(amount),
        };
        assert_eq!(
            code(w.run_as(&w.as_regulator(&suzhou), issue("1.00")).await),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(w.run_as(&h.holder(), issue("1.00")).await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(w.run_as(&h.bureau(), issue("1199999.01")).await),
            ErrorCode::InsufficientFunds
        );
        clean(&db).await;
    }
);

db_test!(
    a_redemption_pays_the_developer_thirty_sixty_ten_with_a_five_percent_reward_in_the_first_year,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let v = h.issue("800000.00").await;
        let r = h.redeem(&h.holder(), &v, "500000.00").await.unwrap();
        // 5% of the redeemed amount from the subsidy pool, into the same escrow.
        assert_eq!((r.reward_bp.get(), r.reward), (500, m("25000.00")));
        assert_eq!(r.order.total, m("525000.00"));
        assert_eq!(
            (r.order.payer, r.order.merchant),
            (h.holder.id, h.developer.id)
        );
        // 30% at contract, at once.
        assert_eq!(
            r.released.iter().map(|t| t.amount).collect::<Vec<_>>(),
            [m("157500.00")]
        );
        assert_eq!(r.order.collected, r.order.settled);
        assert_eq!(
            (r.voucher.balance, r.voucher.status),
            (m("300000.00"), VoucherStatus::PartiallyUsed)
        );
        let pool = get_account(&db.db, subsidy_pool_of(&h).await)
            .await
            .unwrap();
        assert_eq!(pool.balance_fen, m("75000.00").fen());
        // 60% when the holder confirms the handover.
        let out = w
            .run_as(
                &h.holder(),
                ConfirmMilestone {
                    order: r.order.id,
                    index: 1,
                    as_: ConfirmAs::Payer,
                    approve: true,
                    evidence: "已交房".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            out.released.iter().map(|t| t.amount).collect::<Vec<_>>(),
            [m("315000.00")]
        );
        // 10% a year after the handover.
        w.pass_days(364).await;
        assert_eq!(
            get_order(&db.db, r.order.id).await.unwrap().status,
            OrderStatus::Active
        );
        w.pass_days(1).await;
        let o = get_order(&db.db, r.order.id).await.unwrap();
        assert_eq!(
            (o.status, o.released),
            (OrderStatus::Completed, m("525000.00"))
        );
        let payable = enrollment_of(&db.db, h.developer.id, h.scheme.id)
            .await
            .unwrap()
            .payable_account;
        assert_eq!(
            get_account(&db.db, payable).await.unwrap().balance_fen,
            m("525000.00").fen()
        );
        // The rest of the voucher is still the holder's.
        assert_eq!(
            get_voucher(&db.db, v.id).await.unwrap().balance,
            m("300000.00")
        );
        clean(&db).await;
    }
);

async fn subsidy_pool_of(h: &Housing) -> AccountId {
    let accounts = lvyue_entity::account::Entity::find()
        .filter(lvyue_entity::account::Column::SchemeId.eq(h.scheme.id.0))
        .filter(lvyue_entity::account::Column::Kind.eq(AccountKind::Subsidy.as_str()))
        .all(h.w.escrow.db())
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    AccountId(accounts[0].id)
}

db_test!(
    the_reward_is_two_percent_in_months_thirteen_to_twenty_four,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let v = h.issue("100000.00").await;
        // 2027-03-02 10:00 is twelve months after issue: the first tier has ended.
        h.w.pass_days(365).await;
        let r = h.redeem(&h.holder(), &v, "100000.00").await.unwrap();
        assert_eq!(
            (r.reward_bp.get(), r.reward, r.order.total),
            (200, m("2000.00"), m("102000.00"))
        );
        assert_eq!(r.voucher.status, VoucherStatus::UsedUp);
        // Used up: nothing more to redeem.
        assert_eq!(
            code(h.redeem(&h.holder(), &v, "1.00").await),
            ErrorCode::InvalidState
        );
        clean(&db).await;
    }
);

db_test!(
    a_transferred_voucher_cannot_be_transferred_again,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let buyer = w.payer("王语嫣").await;
        let v = h.issue("800000.00").await;
        let split = |parts: Vec<(PartyId, &str)>| TransferVoucher {
            voucher: v.id,
            parts: parts
                .into_iter()
                .map(|(holder, a)| TransferPart {
                    holder,
                    amount: m(a),
                })
                .collect(),
        };
        // The parts must take the whole balance; another's voucher is not found.
        assert_eq!(
            code(
                w.run_as(&h.holder(), split(vec![(buyer.id, "500000.00")]))
                    .await
            ),
            ErrorCode::Validation
        );
        assert_eq!(
            code(
                w.run_as(&h.as_payer(&buyer), split(vec![(buyer.id, "800000.00")]))
                    .await
            ),
            ErrorCode::NotFound
        );
        let t = w
            .run_as(
                &h.holder(),
                split(vec![(buyer.id, "500000.00"), (h.holder.id, "300000.00")]),
            )
            .await
            .unwrap();
        assert_eq!(
            (t.from.status, t.from.balance),
            (VoucherStatus::Transferred, Money::ZERO)
        );
        assert_eq!(
            get_account(&db.db, t.from.account).await.unwrap().status,
            crate::ledger::AccountStatus::Closed
        );
        assert_eq!(t.to.len(), 2);
        for c in &t.to {
            assert!(!c.transferable);
            assert_eq!(
                (c.expires_at, c.issued_at, c.parent),
                (v.expires_at, v.issued_at, Some(v.id))
            );
        }
        assert_eq!(
            (t.to[0].holder, t.to[0].balance),
            (buyer.id, m("500000.00"))
        );
        // The new holder cannot pass it on, and the old voucher is gone.
        let again = TransferVoucher {
            voucher: t.to[0].id,
            parts: vec![TransferPart {
                holder: h.holder.id,
                amount: m("500000.00"),
            }],
        };
        assert_eq!(
            code(w.run_as(&h.as_payer(&buyer), again).await),
            ErrorCode::InvalidState
        );
        assert_eq!(
            code(
                w.run_as(&h.holder(), split(vec![(buyer.id, "800000.00")]))
                    .await
            ),
            ErrorCode::InvalidState
        );
        // But the new holder may redeem it.
        h.redeem(&h.as_payer(&buyer), &t.to[0], "500000.00")
            .await
            .unwrap();
        clean(&db).await;
    }
);

db_test!(
    an_heir_inherits_a_voucher_even_when_it_may_no_longer_be_transferred,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let spouse = w.payer("阿朱").await;
        let heir = w.payer("萧峰").await;
        let v = h.issue("600000.00").await;
        let t = w
            .run_as(
                &h.holder(),
                TransferVoucher {
                    voucher: v.id,
                    parts: vec![TransferPart {
                        holder: spouse.id,
                        amount: m("600000.00"),
                    }],
                },
            )
            .await
            .unwrap();
        let received = &t.to[0];
        assert!(!received.transferable);
        let inherit = InheritVoucher {
            voucher: received.id,
            heir: heir.id,
            certificate_ref: "(2026)宁钟证民字第88号".into(),
        };
        // The bank executes successions; a holder cannot inherit for itself.
        assert_eq!(
            code(w.run_as(&h.as_payer(&heir), inherit.clone()).await),
            ErrorCode::Forbidden
        );
        let inherited = w.run(inherit.clone()).await.unwrap();
        assert_eq!(
            (
                inherited.holder,
                inherited.balance,
                inherited.expires_at,
                inherited.transferable
            ),
            (heir.id, m("600000.00"), v.expires_at, false)
        );
        assert_eq!(
            get_voucher(&db.db, received.id).await.unwrap().status,
            VoucherStatus::Inherited
        );
        assert_eq!(code(w.run(inherit).await), ErrorCode::InvalidState);
        // The heir redeems it; the reward still counts from the first issue.
        let r = h
            .redeem(&h.as_payer(&heir), &inherited, "600000.00")
            .await
            .unwrap();
        assert_eq!(r.reward, m("30000.00"));
        clean(&db).await;
    }
);

db_test!(
    a_lost_voucher_cannot_be_redeemed_and_is_reissued_with_the_same_balance_and_expiry,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let v = h.issue("800000.00").await;
        h.redeem(&h.holder(), &v, "100000.00").await.unwrap();
        let lost = w
            .run_as(
                &h.holder(),
                ReportVoucherLoss {
                    voucher: v.id,
                    reason: "搬家遗失".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (lost.status, lost.held, lost.balance),
            (VoucherStatus::Frozen, m("700000.00"), m("700000.00"))
        );
        let hold = lost.hold.unwrap();
        assert_eq!(
            get_hold(&db.db, hold).await.unwrap().kind,
            crate::ledger::HoldKind::LossFreeze
        );
        // Whoever has the number can neither redeem nor pass it on.
        assert_eq!(
            code(h.redeem(&h.holder(), &v, "1.00").await),
            ErrorCode::InvalidState
        );
        let buyer = w.payer("钟灵").await;
        let t = TransferVoucher {
            voucher: v.id,
            parts: vec![TransferPart {
                holder: buyer.id,
                amount: m("700000.00"),
            }],
        };
        assert_eq!(
            code(w.run_as(&h.holder(), t).await),
            ErrorCode::InvalidState
        );
        // The bank reissues (a holder cannot).
        assert_eq!(
            code(
                w.run_as(&h.holder(), ReissueVoucher { voucher: v.id })
                    .await
            ),
            ErrorCode::Forbidden
        );
        let new = w.run(ReissueVoucher { voucher: v.id }).await.unwrap();
        assert_ne!(new.number, v.number);
        assert_eq!(
            (
                new.holder,
                new.balance,
                new.held,
                new.expires_at,
                new.issued_at,
                new.transferable,
                new.status
            ),
            (
                h.holder.id,
                m("700000.00"),
                Money::ZERO,
                v.expires_at,
                v.issued_at,
                true,
                VoucherStatus::Active
            )
        );
        let old = get_voucher(&db.db, v.id).await.unwrap();
        assert_eq!(
            (old.status, old.balance, old.held),
            (VoucherStatus::Reissued, Money::ZERO, Money::ZERO)
        );
        assert_eq!(
            get_hold(&db.db, hold).await.unwrap().status,
            HoldStatus::Consumed
        );
        assert_eq!(
            code(w.run(ReissueVoucher { voucher: v.id }).await),
            ErrorCode::InvalidState
        );
        // The new number works.
        h.redeem(&h.holder(), &new, "700000.00").await.unwrap();
        clean(&db).await;
    }
);

//! Refunds of voucher purchases, transfer and redemption guards, the reward tiers and the
//! scoped inventory.

use super::*;

#[test]
fn reward_tiers_count_calendar_months_from_the_first_issue() {
    let rule: VoucherRule = serde_json::from_value(xiamen(true)["voucher"].clone()).unwrap();
    let issued = crate::testing::world::default_start();
    let at = |months: u32, days: i64| plus_months(issued, months).unwrap().plus_days(days);
    let bp = |t| reward_bp_at(&rule, issued, t).unwrap().get();
    assert_eq!(bp(issued), 500);
    assert_eq!(bp(at(12, 0).plus_seconds(-1)), 500);
    assert_eq!(bp(at(12, 0)), 200);
    assert_eq!(bp(at(24, -1)), 200);
    assert_eq!(bp(at(24, 0)), 0);
}

db_test!(
    a_refunded_purchase_goes_back_to_the_voucher_and_its_reward_to_the_pool,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let v = h.issue("800000.00").await;
        let r = h.redeem(&h.holder(), &v, "500000.00").await.unwrap();
        // 157,500 (30%) went to the developer at contract; 367,500 are still in escrow.
        let req = w
            .run_as(
                &h.holder(),
                RequestRefund {
                    order: r.order.id,
                    reason: "合同解除".into(),
                    deduction: None,
                    amount: None,
                },
            )
            .await
            .unwrap();
        w.run(ExecuteRefund { refund: req.id }).await.unwrap();
        let o = get_order(&db.db, r.order.id).await.unwrap();
        assert_eq!(
            (o.status, o.refunded, o.released),
            (OrderStatus::Refunded, m("367500.00"), m("157500.00"))
        );
        // 367,500 split 500,000 : 25,000 → 350,000 to the voucher, 17,500 to the pool.
        let back = get_voucher(&db.db, v.id).await.unwrap();
        assert_eq!(
            (back.balance, back.status),
            (m("650000.00"), VoucherStatus::PartiallyUsed)
        );
        let pool = get_account(&db.db, subsidy_pool_of(&h).await)
            .await
            .unwrap();
        assert_eq!(pool.balance_fen, m("92500.00").fen());
        let red = redemptions_of(&db.db, &h.holder(), v.id).await.unwrap();
        assert_eq!((red.len(), red[0].refunded), (1, m("367500.00")));
        clean(&db).await;
    }
);

db_test!(
    a_refund_after_reissue_follows_the_new_number_and_after_expiry_the_expiry_rule,
    |db: TestDb| async move {
        // Six months' validity: refunds count working days, and the holiday calendar is loaded
        // only through 2026.
        let mut policy = xiamen(false);
        policy["voucher"]["validity_months"] = json!(6);
        policy["voucher"]["reward_tiers"] = json!([{"months": 6, "reward_bp": 500}]);
        let h = housing(&db, policy).await;
        let w = &h.w;
        let v = h.issue("100000.00").await;
        let first = h.redeem(&h.holder(), &v, "40000.00").await.unwrap();
        let second = h.redeem(&h.holder(), &v, "10000.00").await.unwrap();
        w.run_as(
            &h.holder(),
            ReportVoucherLoss {
                voucher: v.id,
                reason: String::new(),
            },
        )
        .await
        .unwrap();
        let new = w.run(ReissueVoucher { voucher: v.id }).await.unwrap();
        let refund = |order| async move {
            let req = w
                .run(RequestRefund {
                    order,
                    reason: "退房".into(),
                    deduction: None,
                    amount: None,
                })
                .await
                .unwrap();
            w.run(ExecuteRefund { refund: req.id }).await.unwrap();
        };
        refund(first.order.id).await;
        // 70% of 42,000 left in escrow: 28,000 to the new number, 1,400 to the pool.
        assert_eq!(
            get_voucher(&db.db, new.id).await.unwrap().balance,
            m("78000.00")
        );
        assert_eq!(
            get_voucher(&db.db, v.id).await.unwrap().balance,
            Money::ZERO
        );
        // After expiry the voucher takes no money: the refund goes where expiry sent the rest.
        w.pass_days(184).await;
        assert_eq!(
            get_voucher(&db.db, new.id).await.unwrap().status,
            VoucherStatus::Expired
        );
        let project_before = get_account(&db.db, h.project.account)
            .await
            .unwrap()
            .balance_fen;
        refund(second.order.id).await;
        assert_eq!(
            get_account(&db.db, h.project.account)
                .await
                .unwrap()
                .balance_fen
                - project_before,
            m("7000.00").fen()
        );
        clean(&db).await;
    }
);

db_test!(
    a_voucher_with_a_purchase_in_progress_cannot_be_split,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let buyer = w.payer("木婉清").await;
        let v = h.issue("100000.00").await;
        let r = h.redeem(&h.holder(), &v, "60000.00").await.unwrap();
        let split = TransferVoucher {
            voucher: v.id,
            parts: vec![TransferPart {
                holder: buyer.id,
                amount: m("40000.00"),
            }],
        };
        let err = w.run_as(&h.holder(), split.clone()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState);
        assert!(err.to_string().contains("PURCHASE_IN_PROGRESS"), "{err}");
        // Once the purchase is complete the rest may be transferred.
        w.run_as(
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
        w.pass_days(365).await;
        assert_eq!(
            get_order(&db.db, r.order.id).await.unwrap().status,
            OrderStatus::Completed
        );
        w.run_as(&h.holder(), split).await.unwrap();
        clean(&db).await;
    }
);

db_test!(
    a_voucher_is_redeemed_only_with_a_developer_its_project_and_scheme_allow,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let outsider = w
            .merchant("苏州某某地产", "320102", Industry::HousingVoucher)
            .await;
        let chosen = w
            .merchant("南京某某安置房开发", "320102", Industry::HousingVoucher)
            .await;
        w.enroll(&h.scheme, &chosen).await;
        let v = h.issue("100000.00").await;
        let redeem = |developer: PartyId| RedeemVoucher {
            voucher: v.id,
            developer,
            amount: m("1000.00"),
            contract_ref: "C-1".into(),
        };
        // Not enrolled in the scheme.
        assert_eq!(
            code(w.run_as(&h.holder(), redeem(outsider.id)).await),
            ErrorCode::NotFound
        );
        // A project tied to one developer.
        let tied = w
            .run_as(
                &h.bureau(),
                CreateVoucherProject {
                    scheme: h.scheme.id,
                    name: "定向安置项目".into(),
                    developer: Some(chosen.id),
                },
            )
            .await
            .unwrap();
        w.run(FundVoucherProject {
            project: tied.account,
            amount: m("10000.00"),
            reference: "拨付-2".into(),
        })
        .await
        .unwrap();
        let tv = w
            .run_as(
                &h.bureau(),
                IssueVoucher {
                    project: tied.account,
                    holder: h.holder.id,
                    amount: m("10000.00"),
                },
            )
            .await
            .unwrap();
        let at = |developer: PartyId| RedeemVoucher {
            voucher: tv.id,
            developer,
            amount: m("1000.00"),
            contract_ref: "C-2".into(),
        };
        assert_eq!(
            code(w.run_as(&h.holder(), at(h.developer.id)).await),
            ErrorCode::Validation
        );
        w.run_as(&h.holder(), at(chosen.id)).await.unwrap();
        // More than the voucher holds; someone else's voucher.
        assert_eq!(
            code(h.redeem(&h.holder(), &v, "100000.01").await),
            ErrorCode::InsufficientFunds
        );
        let other = w.payer("游坦之").await;
        assert_eq!(
            code(h.redeem(&h.as_payer(&other), &v, "1.00").await),
            ErrorCode::NotFound
        );
        // The developer itself does not redeem a holder's voucher.
        assert_eq!(
            code(
                h.redeem(&w.as_party(Role::Merchant, h.developer.id), &v, "1.00")
                    .await
            ),
            ErrorCode::Forbidden
        );
        clean(&db).await;
    }
);

db_test!(
    the_reward_waits_for_the_bureau_to_fund_the_subsidy_pool,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let v = h.issue("1000000.00").await;
        // 5% of 1,000,000 is 50,000; 100,000 is in the pool: two such purchases drain it.
        h.redeem(&h.holder(), &v, "1000000.00").await.unwrap();
        let v2 = h.issue("1000000.00").await;
        h.redeem(&h.holder(), &v2, "1000000.00").await.unwrap();
        let w = &h.w;
        w.run(FundVoucherProject {
            project: h.project.account,
            amount: m("1000.00"),
            reference: "拨付-3".into(),
        })
        .await
        .unwrap();
        let v3 = h.issue("1000.00").await;
        assert_eq!(
            code(h.redeem(&h.holder(), &v3, "1000.00").await),
            ErrorCode::InsufficientFunds
        );
        w.run(FundVoucherSubsidy {
            scheme: h.scheme.id,
            amount: m("50.00"),
            reference: "奖励-2".into(),
        })
        .await
        .unwrap();
        assert_eq!(
            h.redeem(&h.holder(), &v3, "1000.00").await.unwrap().reward,
            m("50.00")
        );
        clean(&db).await;
    }
);

async fn lines(db: &TestDb, p: Principal) -> Vec<InventoryLine> {
    voucher_inventory(&db.db, &p, None).await.unwrap()
}

db_test!(
    the_inventory_counts_and_sums_by_project_and_status_for_whoever_may_see_them,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let other = w.payer("虚竹").await;
        let a = h.issue("300000.00").await;
        let b = h.issue("200000.00").await;
        w.run_as(
            &h.bureau(),
            IssueVoucher {
                project: h.project.account,
                holder: other.id,
                amount: m("100000.00"),
            },
        )
        .await
        .unwrap();
        h.redeem(&h.holder(), &a, "100000.00").await.unwrap();
        w.run_as(
            &h.holder(),
            ReportVoucherLoss {
                voucher: b.id,
                reason: String::new(),
            },
        )
        .await
        .unwrap();
        let bank = lines(&db, w.bank.clone()).await;
        let summary: Vec<(VoucherStatus, u64, String, String)> = bank
            .iter()
            .map(|l| (l.status, l.count, l.face.to_string(), l.balance.to_string()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    VoucherStatus::Active,
                    1,
                    "100000.00".into(),
                    "100000.00".into()
                ),
                (
                    VoucherStatus::Frozen,
                    1,
                    "200000.00".into(),
                    "200000.00".into()
                ),
                (
                    VoucherStatus::PartiallyUsed,
                    1,
                    "300000.00".into(),
                    "200000.00".into()
                ),
            ]
        );
        assert!(
            bank.iter()
                .all(|l| l.project == h.project.account && l.scheme == h.scheme.id)
        );
        assert_eq!(lines(&db, h.bureau()).await, bank);
        // The holder sees its own two; another city's bureau and the developer nothing.
        let own: u64 = lines(&db, h.holder()).await.iter().map(|l| l.count).sum();
        assert_eq!(own, 2);
        let suzhou = w.regulator(&["3205"], &[Industry::HousingVoucher]).await;
        assert!(lines(&db, w.as_regulator(&suzhou)).await.is_empty());
        assert!(
            lines(&db, w.as_party(Role::Merchant, h.developer.id))
                .await
                .is_empty()
        );
        // The same scoping applies to single vouchers and lists.
        assert_eq!(
            voucher_visible(&db.db, &h.bureau(), a.id)
                .await
                .unwrap()
                .balance,
            m("200000.00")
        );
        assert_eq!(
            voucher_visible(&db.db, &w.as_regulator(&suzhou), a.id)
                .await
                .unwrap_err()
                .code(),
            ErrorCode::NotFound
        );
        let mine = vouchers(
            &db.db,
            &h.as_payer(&other),
            &VoucherFilter::default(),
            Page::new(None, 10).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(mine.items.len(), 1);
        assert_eq!(
            voucher_by_number(&db.db, &h.holder(), &a.number)
                .await
                .unwrap()
                .id,
            a.id
        );
        assert_eq!(
            voucher_projects(&db.db, &h.bureau(), None)
                .await
                .unwrap()
                .len(),
            1
        );
        clean(&db).await;
    }
);

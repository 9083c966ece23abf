//! Expiry: the deadline alert, cash-out to the holder, or the balance back to the project.

use super::*;

async fn deadline_alerts(db: &TestDb, p: &Principal) -> usize {
    crate::alert::alerts(&db.db, p, None, Page::new(None, 50).unwrap())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|a| a.kind == crate::alert::AlertKind::DeadlineNear)
        .count()
}

db_test!(
    a_voucher_is_cashed_out_to_its_holder_at_expiry_after_a_deadline_alert,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(true)).await;
        let w = &h.w;
        let v = h.issue("50000.00").await;
        let lost = h.issue("20000.00").await;
        w.run_as(
            &h.holder(),
            ReportVoucherLoss {
                voucher: lost.id,
                reason: String::new(),
            },
        )
        .await
        .unwrap();
        // Expiry is 2028-03-02, 731 days on; the notice 30 days before.
        w.pass_days(700).await;
        assert_eq!(deadline_alerts(&db, &h.bureau()).await, 0);
        w.pass_days(1).await;
        assert_eq!(deadline_alerts(&db, &h.bureau()).await, 2);
        w.pass_days(29).await;
        assert_eq!(
            get_voucher(&db.db, v.id).await.unwrap().status,
            VoucherStatus::Active
        );
        w.pass_days(1).await;
        let cash_out = {
            let e =
                lvyue_entity::system_account::Entity::find_by_id(format!("EXTERNAL:{}", CASH_OUT))
                    .one(&db.db)
                    .await
                    .unwrap()
                    .unwrap();
            get_account(&db.db, AccountId(e.account_id)).await.unwrap()
        };
        assert_eq!(cash_out.balance_fen, m("70000.00").fen());
        for id in [v.id, lost.id] {
            let x = get_voucher(&db.db, id).await.unwrap();
            assert_eq!(
                (x.status, x.balance, x.held),
                (VoucherStatus::CashedOut, Money::ZERO, Money::ZERO)
            );
        }
        assert_eq!(
            code(h.redeem(&h.holder(), &v, "1.00").await),
            ErrorCode::InvalidState
        );
        clean(&db).await;
    }
);

db_test!(
    without_cash_out_an_expired_voucher_goes_back_to_its_project,
    |db: TestDb| async move {
        let h = housing(&db, xiamen(false)).await;
        let v = h.issue("50000.00").await;
        let before = get_account(&db.db, h.project.account)
            .await
            .unwrap()
            .balance_fen;
        // Not before its time, even by hand.
        assert_eq!(
            code(h.w.run(ExpireVoucher { voucher: v.id }).await),
            ErrorCode::InvalidState
        );
        h.w.pass_days(731).await;
        let x = get_voucher(&db.db, v.id).await.unwrap();
        assert_eq!((x.status, x.balance), (VoucherStatus::Expired, Money::ZERO));
        assert_eq!(
            get_account(&db.db, h.project.account)
                .await
                .unwrap()
                .balance_fen,
            before + m("50000.00").fen()
        );
        clean(&db).await;
    }
);

//! The demo's housing, medical, payroll and agricultural worlds, and its one-off episodes (a
//! court case, a blocking list, a reconciliation break, a complaint, payouts).

use anyhow::Context as _;
use rand::Rng;
use serde_json::json;

use lvyue_domain::canteen::{ApprovePurchase, RequestPurchase};
use lvyue_domain::deposit::{
    ConvertDeposit, FreezeDeposit, FundDeposit, OpenDepositAccount, UnfreezeDeposit,
    WithdrawDeposit,
};
use lvyue_domain::enforcement::{CourtDeductFrozen, CourtFreezeAccount, DebtorKey, find_debtor};
use lvyue_domain::ids::{AccountId, HoldId, PartyId, SchemeId, VoucherId};
use lvyue_domain::ledger::AccountKind;
use lvyue_domain::list_import::ImportList;
use lvyue_domain::medical::{
    AdvanceInsurerShare, PaymentShare, RecordPatientPayment, RepayAdvance,
};
use lvyue_domain::money::Money;
use lvyue_domain::order::{Channel, ConfirmAs, ConfirmMilestone};
use lvyue_domain::payout::{BatchPayout, PayoutItem, RequestPayout};
use lvyue_domain::payroll::FundEnterpriseAccount;
use lvyue_domain::principal::{Industry, Principal, Role};
use lvyue_domain::queries::Page;
use lvyue_domain::reconcile::ImportStatement;
use lvyue_domain::risk::RecordComplaint;
use lvyue_domain::screening::ListKind;
use lvyue_domain::voucher::{
    CreateVoucherProject, FundVoucherProject, FundVoucherSubsidy, InheritVoucher, IssueVoucher,
    RedeemVoucher, ReissueVoucher, ReportVoucherLoss, TransferPart, TransferVoucher,
};

use super::build::{Builder, money, principal};
use super::names::person;

/// The demo court's case against the Nanjing driving school (docs/queries/court).
pub const COURT_CASE: &str = "(2026)苏0102执1234号";

/// A card number with a valid Luhn check digit (demo recipients and depositors).
pub fn card(n: u64) -> String {
    let body = format!("621626100{:09}", n % 1_000_000_000);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

pub struct Housing {
    project: AccountId,
    developer: PartyId,
    deposit_scheme: SchemeId,
    deposit_developer: PartyId,
    bureau: Principal,
}

pub struct Medical {
    scheme: SchemeId,
    hospitals: Vec<PartyId>,
}

pub struct Payroll {
    scheme: SchemeId,
    enterprise: PartyId,
}

pub struct Agri {
    market_scheme: SchemeId,
    market: PartyId,
    rural_scheme: SchemeId,
    exchange: PartyId,
}

/// Vouchers and deposits the demo keeps moving.
#[derive(Default)]
pub struct HousingState {
    pub vouchers: Vec<(VoucherId, PartyId)>,
    pub freezes: Vec<(HoldId, PartyId, AccountId)>,
}

impl Builder {
    pub(super) async fn housing(&mut self, bureau: &Principal) -> anyhow::Result<Housing> {
        let voucher_scheme = self
            .scheme("NJ-FP", "南京市房票安置资金监管", Industry::HousingVoucher, "320100", bureau, json!({
                "milestones": [
                    {"name": "签约", "share_bp": 3000, "auto_after_days": 0},
                    {"name": "交房", "share_bp": 6000, "confirm_by": ["PAYER"]},
                    {"name": "交房一年", "share_bp": 1000, "auto_after_days": 365}],
                "voucher": {"validity_months": 24, "reward_tiers": [{"months": 12, "reward_bp": 500}, {"months": 24, "reward_bp": 200}],
                    "cash_out_on_expiry": true, "expiry_notice_days": 30}
            }))
            .await?;
        let developer = self
            .merchant(
                "南京市示范置业有限公司",
                "320115",
                Industry::HousingVoucher,
                "商品住宅开发",
            )
            .await?;
        self.enroll(voucher_scheme, developer).await?;
        let deposit_scheme = self
            .scheme("NJ-FES", "南京市新房认筹金（房e存）", Industry::HousingDeposit, "320100", bureau, json!({
                "milestones": [{"name": "首付款", "share_bp": 10000, "confirm_by": ["EVIDENCE"]}],
                "deposit": {"unbound_daily_cap": "10000.00"}
            }))
            .await?;
        let deposit_developer = self
            .merchant(
                "南京市示范房地产开发有限公司",
                "320106",
                Industry::HousingDeposit,
                "新建商品房预售",
            )
            .await?;
        self.enroll(deposit_scheme, deposit_developer).await?;
        let project = self
            .as_(
                bureau,
                CreateVoucherProject {
                    scheme: voucher_scheme,
                    name: "秦淮区示范片区征收安置项目".into(),
                    developer: None,
                },
            )
            .await?
            .account;
        self.bank(FundVoucherProject {
            project,
            amount: money("8000000.00"),
            reference: "CZ-2026-0601".into(),
        })
        .await?;
        self.bank(FundVoucherSubsidy {
            scheme: voucher_scheme,
            amount: money("400000.00"),
            reference: "CZ-2026-0602".into(),
        })
        .await?;
        Ok(Housing {
            project,
            developer,
            deposit_scheme,
            deposit_developer,
            bureau: bureau.clone(),
        })
    }

    pub(super) async fn housing_day(&mut self, day: i64, h: &Housing) -> anyhow::Result<()> {
        let small = self.is_small();
        if day == 2 {
            for i in 0..if small { 3 } else { 8 } {
                let holder = self.payer().await?;
                let amount = money(["320000.00", "450000.00", "580000.00", "760000.00"][i % 4]);
                let bureau = h.bureau.clone();
                let v = self
                    .as_(
                        &bureau,
                        IssueVoucher {
                            project: h.project,
                            holder,
                            amount,
                        },
                    )
                    .await?;
                self.housing_state.vouchers.push((v.id, holder));
            }
        }
        let vouchers = self.housing_state.vouchers.clone();
        // A holder splits a voucher with a relative (once); another reports one lost and gets
        // it reissued; a family inherits one; several buy homes with theirs.
        if day == 6
            && let Some(&(v, holder)) = vouchers.first()
        {
            let relative = self.payer().await?;
            let balance =
                lvyue_domain::voucher::voucher_visible(self.escrow.db(), &self.bank_principal(), v)
                    .await?
                    .balance;
            let half = balance.share_floor(lvyue_domain::money::Bp::new(5000)?);
            let parts = vec![
                TransferPart {
                    holder,
                    amount: balance.checked_sub(half)?,
                },
                TransferPart {
                    holder: relative,
                    amount: half,
                },
            ];
            let p = principal(Role::Payer, holder);
            self.as_(&p, TransferVoucher { voucher: v, parts }).await?;
        }
        if day == 9
            && let Some(&(v, holder)) = vouchers.get(1)
        {
            let p = principal(Role::Payer, holder);
            self.as_(
                &p,
                ReportVoucherLoss {
                    voucher: v,
                    reason: "房票原件遗失".into(),
                },
            )
            .await?;
        }
        if day == 11
            && let Some(&(v, holder)) = vouchers.get(1)
        {
            let new = self.bank(ReissueVoucher { voucher: v }).await?;
            self.housing_state.vouchers[1] = (new.id, holder);
        }
        if (day == 5 || day == 40 || day == 75) && vouchers.len() > 2 {
            let idx = 2 + (day as usize / 40) % (vouchers.len() - 2);
            let (v, holder) = vouchers[idx];
            let balance =
                lvyue_domain::voucher::voucher_visible(self.escrow.db(), &self.bank_principal(), v)
                    .await?
                    .balance;
            let amount = balance.share_floor(lvyue_domain::money::Bp::new(8000)?);
            let p = principal(Role::Payer, holder);
            let n = self.next();
            let r = self
                .as_(
                    &p,
                    RedeemVoucher {
                        voucher: v,
                        developer: h.developer,
                        amount,
                        contract_ref: format!("NJ-SPF-2026-{n:05}"),
                    },
                )
                .await?;
            self.orders += 1;
            self.handovers.push((r.order.id, holder));
        }
        if day == 100 || (small && day == 10) {
            // The first redeemed home is handed over: the buyer confirms, 60% goes out.
            if let Some((order, holder)) = self.handovers.first().copied() {
                let p = principal(Role::Payer, holder);
                self.as_(
                    &p,
                    ConfirmMilestone {
                        order,
                        index: 1,
                        as_: ConfirmAs::Payer,
                        approve: true,
                        evidence: "交房验收".into(),
                    },
                )
                .await?;
            }
        }
        if day == 60
            && !small
            && let Some(&(v, _)) = vouchers.last()
        {
            let heir = self.payer().await?;
            self.bank(InheritVoucher {
                voucher: v,
                heir,
                certificate_ref: "（2026）苏宁钟证民内字第321号".into(),
            })
            .await?;
        }
        // 房e存: buyers put down subscription deposits for a new project.
        if day == 4 || day == 14 {
            for _ in 0..if small { 2 } else { 5 } {
                let buyer = self.payer().await?;
                let n = self.next();
                let bound = card(n);
                let acc = self
                    .bank(OpenDepositAccount {
                        scheme: h.deposit_scheme,
                        owner: buyer,
                        bound_card: bound.clone(),
                    })
                    .await?
                    .account;
                self.bank(FundDeposit {
                    account: acc,
                    amount: money("50000.00"),
                    source_account: bound,
                    external_ref: format!("FES{n:08}"),
                })
                .await?;
                self.bank(FundDeposit {
                    account: acc,
                    amount: money("10000.00"),
                    source_account: card(n + 7_000_000),
                    external_ref: format!("FES{n:08}-2"),
                })
                .await?;
                let p = principal(Role::Payer, buyer);
                let f = self
                    .as_(
                        &p,
                        FreezeDeposit {
                            account: acc,
                            beneficiary: h.deposit_developer,
                            amount: money("50000.00"),
                            reference: "示范府一期认筹".into(),
                        },
                    )
                    .await?;
                self.housing_state.freezes.push((f.hold, buyer, acc));
            }
        }
        if day == 30 || (small && day == 11) {
            let freezes = std::mem::take(&mut self.housing_state.freezes);
            for (i, (hold, buyer, acc)) in freezes.into_iter().enumerate() {
                if i % 3 == 2 {
                    self.bank(UnfreezeDeposit { hold }).await?;
                    let p = principal(Role::Payer, buyer);
                    self.as_(
                        &p,
                        WithdrawDeposit {
                            account: acc,
                            amount: money("60000.00"),
                        },
                    )
                    .await?;
                } else {
                    let n = self.next();
                    self.bank(ConvertDeposit {
                        hold,
                        contract_ref: format!("NJ-YS-2026-{n:05}"),
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    pub(super) async fn medical(&mut self, bureau: &Principal) -> anyhow::Result<Medical> {
        let scheme = self
            .scheme(
                "NJ-YB",
                "南京市医保资金结算监管",
                Industry::MedicalInsurance,
                "320100",
                bureau,
                json!({
                    "milestones": [{"name": "结算", "share_bp": 10000, "auto_after_days": 0}],
                    "medical": {"advance_cap": "500000.00"}
                }),
            )
            .await?;
        let mut hospitals = Vec::new();
        for (name, region) in [
            ("南京市示范第一医院", "320102"),
            ("南京市鼓楼区示范社区卫生服务中心", "320106"),
        ] {
            let m = self
                .merchant(name, region, Industry::MedicalInsurance, "定点医疗机构")
                .await?;
            self.enroll(scheme, m).await?;
            hospitals.push(m);
        }
        Ok(Medical { scheme, hospitals })
    }

    pub(super) async fn medical_day(&mut self, day: i64, m: &Medical) -> anyhow::Result<()> {
        if day % 3 == 0 {
            let n = self.next();
            let a = money(["186.50", "420.00", "1280.00"][self.rng.gen_range(0..3)]);
            let b = money(["35.20", "88.00"][self.rng.gen_range(0..2)]);
            let shares = vec![
                PaymentShare {
                    institution: m.hospitals[0],
                    amount: a,
                },
                PaymentShare {
                    institution: m.hospitals[1],
                    amount: b,
                },
            ];
            self.bank(RecordPatientPayment {
                scheme: m.scheme,
                channel: Channel::WechatPay,
                external_ref: format!("wxyb{n:09}"),
                payer: None,
                shares,
            })
            .await?;
        }
        if day % 30 == 15 {
            let claim = format!("YB-2026-{:04}", day);
            self.bank(AdvanceInsurerShare {
                institution: m.hospitals[0],
                scheme: m.scheme,
                amount: money("120000.00"),
                claim_ref: claim,
            })
            .await?;
        }
        if day % 30 == 25 && day > 30 {
            let claim = format!("YB-2026-{:04}", day - 40);
            self.bank(RepayAdvance {
                claim_ref: claim,
                amount: money("120000.00"),
            })
            .await?;
        }
        Ok(())
    }

    pub(super) async fn payroll(&mut self, labour: &Principal) -> anyhow::Result<Payroll> {
        let scheme = self
            .scheme(
                "NJ-LH",
                "南京市灵活用工资金代发监管",
                Industry::FlexibleEmployment,
                "320100",
                labour,
                json!({
                    "milestones": [{"name": "代发", "share_bp": 10000, "auto_after_days": 0}],
                    "payroll": {"per_batch_cap": "200000.00", "per_line_cap": "20000.00"}
                }),
            )
            .await?;
        let enterprise = self
            .merchant(
                "南京市示范灵活用工服务有限公司",
                "320115",
                Industry::FlexibleEmployment,
                "灵活用工平台",
            )
            .await?;
        self.enroll(scheme, enterprise).await?;
        Ok(Payroll { scheme, enterprise })
    }

    pub(super) async fn payroll_day(&mut self, day: i64, p: &Payroll) -> anyhow::Result<()> {
        if day % 14 != 5 {
            return Ok(());
        }
        let n = self.next();
        self.bank(FundEnterpriseAccount {
            merchant: p.enterprise,
            scheme: p.scheme,
            amount: money("60000.00"),
            channel: Channel::BankTransfer,
            external_ref: format!("QY{n:08}"),
        })
        .await?;
        let workers = if self.is_small() { 3 } else { 12 };
        let items = (0..workers)
            .map(|i| PayoutItem {
                name: person(n as usize + i),
                card_number: card(n * 100 + i as u64),
                amount: money(["3200.00", "4100.00", "4650.00"][i % 3]),
            })
            .collect();
        let platform = principal(Role::Merchant, p.enterprise);
        self.as_(
            &platform,
            BatchPayout {
                merchant: p.enterprise,
                scheme: p.scheme,
                batch_ref: format!("PAY-{day:03}-{n}"),
                items,
            },
        )
        .await?;
        Ok(())
    }

    pub(super) async fn agri(&mut self, department: &Principal) -> anyhow::Result<Agri> {
        let deposit_rule = json!({"unbound_daily_cap": "10000.00", "beneficiary_releases": true, "forfeit_on_default": true});
        let market_scheme = self
            .scheme("NJ-NP", "南京市智慧农批交易资金监管", Industry::AgriMarket, "320100", department, json!({
                "milestones": [{"name": "确认收货", "share_bp": 10000, "confirm_by": ["PAYER"]}], "deposit": deposit_rule
            }))
            .await?;
        let market = self
            .merchant(
                "南京市示范农副产品批发市场有限公司",
                "320115",
                Industry::AgriMarket,
                "农副产品批发",
            )
            .await?;
        self.enroll(market_scheme, market).await?;
        let rural_scheme = self
            .scheme("NJ-NC", "南京市农村产权交易资金监管", Industry::RuralProperty, "320100", department, json!({
                "milestones": [{"name": "交割", "share_bp": 10000, "confirm_by": ["PAYER"]}], "deposit": deposit_rule
            }))
            .await?;
        let exchange = self
            .merchant(
                "南京市示范农村产权交易中心",
                "320115",
                Industry::RuralProperty,
                "农村产权交易",
            )
            .await?;
        self.enroll(rural_scheme, exchange).await?;
        Ok(Agri {
            market_scheme,
            market,
            rural_scheme,
            exchange,
        })
    }

    pub(super) async fn agri_day(&mut self, day: i64, a: &Agri) -> anyhow::Result<()> {
        // A wholesale buyer: a deposit frozen for the market, a trade paid through escrow and
        // released when the buyer confirms delivery, then the deposit released by the market.
        if day % 10 == 2 {
            let buyer = self.payer().await?;
            let n = self.next();
            let bound = card(n);
            let acc = self
                .bank(OpenDepositAccount {
                    scheme: a.market_scheme,
                    owner: buyer,
                    bound_card: bound.clone(),
                })
                .await?
                .account;
            self.bank(FundDeposit {
                account: acc,
                amount: money("20000.00"),
                source_account: bound,
                external_ref: format!("NP{n:08}"),
            })
            .await?;
            let p = principal(Role::Payer, buyer);
            let f = self
                .as_(
                    &p,
                    FreezeDeposit {
                        account: acc,
                        beneficiary: a.market,
                        amount: money("5000.00"),
                        reference: format!("批发交易保证金 {n}"),
                    },
                )
                .await?;
            let order = self
                .sell(
                    a.market_scheme,
                    a.market,
                    buyer,
                    money("12800.00"),
                    "蔬菜批发采购",
                )
                .await?;
            self.agri_trades.push((order.id, buyer, f.hold));
        }
        let trades = std::mem::take(&mut self.agri_trades);
        for (order, buyer, hold) in trades {
            let o = lvyue_domain::order::get_order(self.escrow.db(), order).await?;
            if o.settled.is_zero() {
                self.agri_trades.push((order, buyer, hold));
                continue;
            }
            let p = principal(Role::Payer, buyer);
            self.as_(
                &p,
                ConfirmMilestone {
                    order,
                    index: 0,
                    as_: ConfirmAs::Payer,
                    approve: true,
                    evidence: "已验货收货".into(),
                },
            )
            .await?;
            let market = principal(Role::Merchant, a.market);
            self.as_(&market, UnfreezeDeposit { hold }).await?;
        }
        // A rural land-lease auction: bidders' deposits; one bidder defaults and forfeits.
        if day == 45 || (self.is_small() && day == 3) {
            for i in 0..2 {
                let bidder = self.payer().await?;
                let n = self.next();
                let bound = card(n);
                let acc = self
                    .bank(OpenDepositAccount {
                        scheme: a.rural_scheme,
                        owner: bidder,
                        bound_card: bound.clone(),
                    })
                    .await?
                    .account;
                self.bank(FundDeposit {
                    account: acc,
                    amount: money("50000.00"),
                    source_account: bound,
                    external_ref: format!("NC{n:08}"),
                })
                .await?;
                let p = principal(Role::Payer, bidder);
                let f = self
                    .as_(
                        &p,
                        FreezeDeposit {
                            account: acc,
                            beneficiary: a.exchange,
                            amount: money("30000.00"),
                            reference: "江宁区示范村土地经营权流转 2026-07".into(),
                        },
                    )
                    .await?;
                if i == 1 {
                    self.bank(lvyue_domain::deposit::ForfeitDeposit {
                        hold: f.hold,
                        reason: "竞得后未按期签约".into(),
                    })
                    .await?;
                } else {
                    let exchange = principal(Role::Merchant, a.exchange);
                    self.as_(&exchange, UnfreezeDeposit { hold: f.hold })
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The canteen buys vegetables: requested by the canteen, approved by the school and the
    /// education bureau, then paid to the supplier.
    pub(super) async fn canteen_purchase(
        &mut self,
        canteen: PartyId,
        scheme: SchemeId,
        school: &Principal,
        bureau: &Principal,
    ) -> anyhow::Result<()> {
        let c = principal(Role::Merchant, canteen);
        let amount = if self.is_small() {
            money("300.00")
        } else {
            money("8000.00")
        };
        let n = self.next();
        let p = self
            .as_(
                &c,
                RequestPurchase {
                    merchant: canteen,
                    scheme,
                    supplier_name: "南京市示范蔬菜配送有限公司".into(),
                    supplier_account: "3201000011112222".into(),
                    amount,
                    invoice_ref: format!("FP2026{n:06}"),
                },
            )
            .await?;
        self.as_(
            school,
            ApprovePurchase {
                purchase: p.id,
                approve: true,
                note: "验收合格".into(),
            },
        )
        .await?;
        self.as_(
            bureau,
            ApprovePurchase {
                purchase: p.id,
                approve: true,
                note: "同意支付".into(),
            },
        )
        .await?;
        Ok(())
    }

    /// Month end: merchants with released money take half of it out.
    pub(super) async fn payouts(&mut self) -> anyhow::Result<()> {
        let bank = self.bank_principal();
        let merchants = lvyue_domain::queries::merchants(
            self.escrow.db(),
            &bank,
            None,
            Page {
                after: None,
                first: 200,
            },
        )
        .await?
        .items;
        for m in merchants {
            if !matches!(
                m.industry,
                Some(
                    Industry::DrivingSchool
                        | Industry::PrepaidCard
                        | Industry::MedicalInsurance
                        | Industry::Platform
                )
            ) {
                continue;
            }
            for b in lvyue_domain::scheme::merchant_balances(self.escrow.db(), &bank, m.id).await? {
                let half = Money::from_fen(b.payable_fen / 2)?;
                if half.fen() >= 10_000 && m.status == lvyue_domain::party::PartyStatus::Active {
                    self.bank(RequestPayout {
                        merchant: m.id,
                        scheme: b.scheme,
                        amount: half,
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// A court enforces a debt against a driving school (执行查控): it finds the school's money
    /// by its USCC, freezes 3,000.00 more than its payable money holds (the rest waits for
    /// money to arrive, 轮候), and the next day deducts part of what is frozen to its account.
    pub(super) async fn court_case(
        &mut self,
        court: PartyId,
        merchant: PartyId,
    ) -> anyhow::Result<()> {
        let c = principal(Role::Court, court);
        let uscc = lvyue_domain::party::get_party(self.escrow.db(), merchant)
            .await?
            .uscc
            .context("the debtor school has a USCC")?;
        let debtor = find_debtor(&self.escrow, &c, COURT_CASE, DebtorKey::Uscc(&uscc)).await?;
        let payable = debtor
            .accounts
            .iter()
            .filter(|a| a.account.kind == AccountKind::Payable)
            .max_by_key(|a| a.account.available_fen())
            .context("the debtor school has a payable account")?
            .account
            .clone();
        let available = Money::from_fen(payable.available_fen().max(0))?;
        let hold = self
            .as_(
                &c,
                CourtFreezeAccount {
                    account: payable.id,
                    amount: available.checked_add(money("3000.00"))?,
                    case_no: COURT_CASE.into(),
                    priority: 1,
                    expires_at: self.clock_now().plus_days(180),
                    court: None,
                },
            )
            .await?;
        self.next_day().await?;
        let deduct = Ord::min(hold.remaining, money("600.00"));
        if !deduct.is_zero() {
            self.as_(
                &c,
                CourtDeductFrozen {
                    account: payable.id,
                    case_no: COURT_CASE.into(),
                    amount: deduct,
                    court: None,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// The bank imports the dishonest-debtor list; one school is on it.
    pub(super) async fn blocking_list(&mut self, merchant: PartyId) -> anyhow::Result<()> {
        let m = lvyue_domain::party::get_party(self.escrow.db(), merchant).await?;
        let csv = format!(
            "uscc,name,reason,listed_on\n{},{},(2026)苏0508执567号 未履行生效判决,2026-11-02\n",
            m.uscc.unwrap_or_default(),
            m.name
        );
        self.bank(ImportList {
            kind: ListKind::DishonestDebtor,
            csv,
        })
        .await?;
        Ok(())
    }

    /// Yesterday's WeChat Pay statement: one payment missing from it, one line unknown to the
    /// ledger. Both are breaks, each with an alert.
    pub(super) async fn statement(&mut self) -> anyhow::Result<()> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let day = self.clock_now().china_date().pred_opt().unwrap_or_default();
        let from = lvyue_domain::clock::Timestamp::china_midnight(day);
        let to = lvyue_domain::clock::Timestamp::china_midnight(day.succ_opt().unwrap_or(day));
        let payments = lvyue_entity::payment::Entity::find()
            .filter(lvyue_entity::payment::Column::Channel.eq(Channel::WechatPay.as_str()))
            .filter(lvyue_entity::payment::Column::PaidAtUs.gte(from.0))
            .filter(lvyue_entity::payment::Column::PaidAtUs.lt(to.0))
            .all(self.escrow.db())
            .await?;
        let mut csv = String::from("reference,amount\n");
        for p in payments.iter().skip(1) {
            csv.push_str(&format!(
                "{},{}\n",
                p.external_ref,
                Money::from_fen(p.amount_fen)?
            ));
        }
        csv.push_str("wx9999999999,66.00\n");
        self.bank(ImportStatement {
            channel: Channel::WechatPay,
            date: day,
            csv,
        })
        .await?;
        Ok(())
    }

    pub(super) async fn complaint(&mut self, shop: PartyId) -> anyhow::Result<()> {
        self.bank(RecordComplaint {
            merchant: shop,
            order: None,
            text: "会员反映门店装修停业一周未提前通知".into(),
        })
        .await?;
        Ok(())
    }
}

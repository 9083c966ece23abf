//! Builds the demo world day by day through domain commands.

use std::sync::Arc;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use lvyue_domain::Escrow;
use lvyue_domain::canteen::AssignCanteenSchool;
use lvyue_domain::clock::ManualClock;
use lvyue_domain::command::Command;
use lvyue_domain::confirmer::{ConfirmerKind, RegisterConfirmer};
use lvyue_domain::idempotency::IdempotencyKey;
use lvyue_domain::identity::{id_number_with_check, uscc_with_check};
use lvyue_domain::ids::{OrderId, PartyId, SchemeId};
use lvyue_domain::merchant::RegisterMerchant;
use lvyue_domain::money::{Bp, Money};
use lvyue_domain::order::{
    ApproveDeduction, Channel, Collect, ConfirmAs, ConfirmMilestone, ExecuteRefund, OpenOrder,
    OrderRecord, RequestRefund,
};
use lvyue_domain::party::{Licence, RegisterCourt, RegisterPayer, RegisterRegulator};
use lvyue_domain::prepaid::{IssuerType, RecordUsage, SetMerchantProfile};
use lvyue_domain::principal::{Industry, Jurisdiction, Principal, Role};
use lvyue_domain::scheme::{CreateScheme, EnrollMerchant};
use lvyue_domain::split::{SplitShare, SplitTerms};

use super::names::{CITIES, person};
use super::{HISTORY_DAYS, Size};

/// The parties the printed tokens act for.
#[derive(Debug, Clone)]
pub struct DemoParties {
    pub merchant: PartyId,
    pub payer: PartyId,
    pub regulator: PartyId,
    pub court: PartyId,
    /// The training association that certifies the evidence-paid schools' exam results.
    pub confirmer: PartyId,
    pub orders: usize,
}

/// An open order the builder keeps moving.
struct Live {
    order: OrderRecord,
    industry: Industry,
    /// Who confirms its milestones: the training association (evidence) or the bureau.
    by_regulator: Option<Principal>,
    payer: PartyId,
}

struct SchemeSet {
    id: SchemeId,
    merchants: Vec<PartyId>,
}

pub struct Builder {
    pub(super) escrow: Arc<Escrow>,
    clock: Arc<ManualClock>,
    size: Size,
    bank: Principal,
    pub(super) rng: StdRng,
    n: u64,
    live: Vec<Live>,
    /// Who certifies exam results for the schools paid on evidence.
    exam_confirmer: Option<PartyId>,
    pub(super) orders: usize,
    pub(super) housing_state: super::industries::HousingState,
    /// Redeemed homes waiting for handover: (order, buyer).
    pub(super) handovers: Vec<(OrderId, PartyId)>,
    /// Wholesale trades waiting for delivery: (order, buyer, deposit freeze).
    pub(super) agri_trades: Vec<(OrderId, PartyId, lvyue_domain::ids::HoldId)>,
}

pub(super) fn money(s: &str) -> Money {
    s.parse().unwrap_or(Money::ZERO)
}

pub(super) fn principal(role: Role, party: PartyId) -> Principal {
    Principal {
        subject: format!("demo-{}-{party}", role.as_str().to_lowercase()),
        role,
        party_id: Some(party),
        jurisdiction: Jurisdiction::default(),
    }
}

impl Builder {
    pub fn new(escrow: Arc<Escrow>, clock: Arc<ManualClock>, size: Size) -> Builder {
        Builder {
            escrow,
            clock,
            size,
            bank: Principal::bank("demo-loader"),
            rng: StdRng::seed_from_u64(20_261_125),
            n: 0,
            live: Vec::new(),
            exam_confirmer: None,
            orders: 0,
            housing_state: Default::default(),
            handovers: Vec::new(),
            agri_trades: Vec::new(),
        }
    }

    pub(super) fn is_small(&self) -> bool {
        self.size == Size::Small
    }

    pub(super) fn bank_principal(&self) -> Principal {
        self.bank.clone()
    }

    pub(super) fn clock_now(&self) -> lvyue_domain::clock::Timestamp {
        use lvyue_domain::clock::Clock as _;
        self.clock.now()
    }

    pub(super) fn next(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    /// Runs a command as `who` under a fresh idempotency key.
    pub(super) async fn as_<C: Command>(
        &mut self,
        who: &Principal,
        cmd: C,
    ) -> anyhow::Result<C::Output> {
        let key = IdempotencyKey::new(&format!("demo-{}", self.next()))?;
        self.escrow
            .execute(who, Some(&key), &cmd)
            .await
            .with_context(|| format!("demo: {}", C::NAME))
    }

    pub(super) async fn bank<C: Command>(&mut self, cmd: C) -> anyhow::Result<C::Output> {
        let bank = self.bank.clone();
        self.as_(&bank, cmd).await
    }

    pub(super) async fn regulator(
        &mut self,
        name: &str,
        regions: &[&str],
        industries: &[Industry],
    ) -> anyhow::Result<Principal> {
        let jurisdiction = Jurisdiction {
            regions: regions
                .iter()
                .map(|r| r.parse())
                .collect::<Result<_, _>>()?,
            industries: industries.to_vec(),
        };
        let r = self
            .bank(RegisterRegulator {
                name: name.into(),
                jurisdiction: jurisdiction.clone(),
            })
            .await?;
        Ok(Principal {
            subject: format!("demo-regulator-{}", r.id),
            role: Role::Regulator,
            party_id: Some(r.id),
            jurisdiction,
        })
    }

    pub(super) async fn merchant(
        &mut self,
        name: &str,
        region: &str,
        industry: Industry,
        description: &str,
    ) -> anyhow::Result<PartyId> {
        let n = self.next();
        let uscc = uscc_with_check(&format!("91{}MA{:07}", &region[..6], n % 10_000_000))
            .context("uscc")?;
        let m = self
            .bank(RegisterMerchant {
                name: name.into(),
                uscc,
                region: region.parse()?,
                industry,
                description: description.into(),
                licence: Some(Licence {
                    registered_name: name.into(),
                    registered_address: format!(
                        "{}示范路{}号",
                        &name[..name.char_indices().nth(3).map(|(i, _)| i).unwrap_or(0)],
                        n
                    ),
                    legal_representative: person(n as usize + 7),
                    valid_until: None,
                    status: "存续".into(),
                }),
            })
            .await?;
        Ok(m.id)
    }

    pub(super) async fn scheme(
        &mut self,
        code: &str,
        name: &str,
        industry: Industry,
        region: &str,
        regulator: &Principal,
        policy: Value,
    ) -> anyhow::Result<SchemeId> {
        Ok(self
            .bank(CreateScheme {
                code: code.into(),
                name: name.into(),
                industry,
                region: region.parse()?,
                regulator: regulator.party_id,
                policy,
            })
            .await?
            .id)
    }

    pub(super) async fn enroll(
        &mut self,
        scheme: SchemeId,
        merchant: PartyId,
    ) -> anyhow::Result<()> {
        let n = self.next();
        self.bank(EnrollMerchant {
            scheme,
            merchant,
            settlement_account_number: format!("6222{:012}", 100_000 + n),
        })
        .await?;
        Ok(())
    }

    pub(super) async fn payer(&mut self) -> anyhow::Result<PartyId> {
        let n = self.next();
        let birth = chrono::NaiveDate::from_ymd_opt(1975, 1, 1).unwrap_or_default()
            + chrono::Days::new(n * 37 % 12_000);
        let id = id_number_with_check(&format!("320102{}{:03}", birth.format("%Y%m%d"), n % 1000))
            .context("id number")?;
        Ok(self
            .bank(RegisterPayer {
                name: person(n as usize),
                id_number: Some(id),
                phone: Some(format!("139{:08}", 10_000_000 + n)),
            })
            .await?
            .id)
    }

    /// Opens an order and collects it through a random channel.
    pub(super) async fn sell(
        &mut self,
        scheme: SchemeId,
        merchant: PartyId,
        payer: PartyId,
        total: Money,
        description: &str,
    ) -> anyhow::Result<OrderRecord> {
        self.sell_split(scheme, merchant, payer, total, description, None)
            .await
    }

    /// [`sell`](Self::sell) for a platform, with the order's split terms.
    pub(super) async fn sell_split(
        &mut self,
        scheme: SchemeId,
        merchant: PartyId,
        payer: PartyId,
        total: Money,
        description: &str,
        split: Option<SplitTerms>,
    ) -> anyhow::Result<OrderRecord> {
        let order = self
            .bank(OpenOrder {
                scheme,
                merchant,
                payer,
                total,
                description: description.into(),
                order_no: None,
                split,
            })
            .await?;
        let channel = [
            Channel::WechatPay,
            Channel::Alipay,
            Channel::UnionPay,
            Channel::QrCode,
            Channel::BankTransfer,
        ][self.rng.gen_range(0..5)];
        let reference = format!(
            "{}{:010}",
            &channel.as_str()[..2].to_lowercase(),
            self.next()
        );
        self.bank(Collect {
            order: order.id,
            channel,
            amount: total,
            external_ref: reference,
            batch_ref: None,
        })
        .await?;
        self.orders += 1;
        Ok(order)
    }

    /// Moves the clock a day and fires what is due (settlement, automatic releases, expiry).
    pub(super) async fn next_day(&mut self) -> anyhow::Result<()> {
        self.clock.advance_days(1);
        loop {
            let r = lvyue_domain::jobs::tick(&self.escrow).await?;
            if r.fired == 0 {
                return Ok(());
            }
        }
    }

    pub async fn run(mut self) -> anyhow::Result<DemoParties> {
        let small = self.size == Size::Small;
        // Regulators: one per industry (and city where the rules are the city's).
        let transport: Vec<Principal> = vec![
            self.regulator("南京市交通运输局", &["3201"], &[Industry::DrivingSchool])
                .await?,
            self.regulator("苏州市交通运输局", &["3205"], &[Industry::DrivingSchool])
                .await?,
            self.regulator("无锡市交通运输局", &["3202"], &[Industry::DrivingSchool])
                .await?,
        ];
        let education = self
            .regulator("南京市教育局", &["3201"], &[Industry::Canteen])
            .await?;
        let commerce = self
            .regulator(
                "江苏省商务厅",
                &["32"],
                &[Industry::PrepaidCard, Industry::Platform],
            )
            .await?;
        let housing = self
            .regulator(
                "南京市住房保障和房产局",
                &["3201"],
                &[Industry::HousingDeposit, Industry::HousingVoucher],
            )
            .await?;
        let medical = self
            .regulator("南京市医疗保障局", &["3201"], &[Industry::MedicalInsurance])
            .await?;
        let labour = self
            .regulator(
                "南京市人力资源和社会保障局",
                &["3201"],
                &[Industry::FlexibleEmployment],
            )
            .await?;
        let agriculture = self
            .regulator(
                "南京市农业农村局",
                &["3201"],
                &[Industry::AgriMarket, Industry::RuralProperty],
            )
            .await?;
        let court = self
            .bank(RegisterCourt {
                name: "南京市玄武区人民法院".into(),
                region: "320102".parse()?,
            })
            .await?
            .id;

        // Driving schools in three cities: Nanjing and Wuxi pay on exam results certified by the
        // provincial training association (25/15/30/30), Suzhou on the transport bureau's
        // approval of hours (10/30/30/30). No school certifies its own learners' exams.
        let evidence_policy = json!({
            "milestones": [
                {"name": "报名", "share_bp": 2500, "auto_after_days": 0},
                {"name": "科目一合格", "share_bp": 1500, "confirm_by": ["EVIDENCE"]},
                {"name": "科目二合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]},
                {"name": "科目三合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]}],
            "validity_days": 1095, "expiry_notice_days": 60, "expiry_action": "REFUND",
            "refund": {"deadline_working_days": 15, "max_deduction_bp": 2000, "deduction_needs_regulator": true},
            "large_release_bp": 9000
        });
        let hours_policy = json!({
            "milestones": [
                {"name": "入学", "share_bp": 1000, "confirm_by": ["REGULATOR"]},
                {"name": "科目二学时", "share_bp": 3000, "confirm_by": ["REGULATOR"]},
                {"name": "科目三学时", "share_bp": 3000, "confirm_by": ["REGULATOR"]},
                {"name": "结业", "share_bp": 3000, "confirm_by": ["REGULATOR", "PAYER"]}],
            "validity_days": 1095, "expiry_notice_days": 60, "expiry_action": "REFUND",
            "refund": {"deadline_working_days": 15, "max_deduction_bp": 1500, "deduction_needs_regulator": true}
        });
        let mut schools = Vec::new();
        for (i, (city, city_name, districts)) in CITIES.iter().enumerate() {
            let policy = if i == 1 {
                hours_policy.clone()
            } else {
                evidence_policy.clone()
            };
            let code = ["NJ-JP", "SZ-JP", "WX-JP"][i];
            let scheme = self
                .scheme(
                    code,
                    &format!("{city_name}驾培资金监管（先培后付）"),
                    Industry::DrivingSchool,
                    city,
                    &transport[i],
                    policy,
                )
                .await?;
            let mut merchants = Vec::new();
            for (j, (district, district_name)) in districts.iter().enumerate() {
                let name = if j == 2 {
                    format!("{city_name}{district_name}示范驾校")
                } else {
                    format!(
                        "{city_name}{district_name}示范{}驾驶培训有限公司",
                        ["金陵", "东方", "通达"][j]
                    )
                };
                let m = self
                    .merchant(
                        &name,
                        district,
                        Industry::DrivingSchool,
                        "C1/C2 小型汽车驾驶培训",
                    )
                    .await?;
                self.enroll(scheme, m).await?;
                merchants.push(m);
            }
            schools.push((
                SchemeSet {
                    id: scheme,
                    merchants,
                },
                if i == 1 {
                    Some(transport[i].clone())
                } else {
                    None
                },
            ));
        }

        // A school canteen: a term's meal fees released month by month.
        let canteen_scheme = self.scheme("NJ-ST", "南京市阳光食堂资金监管", Industry::Canteen, "320100", &education, json!({
            "milestones": [
                {"name": "九月餐费", "share_bp": 2500, "auto_after_days": 0},
                {"name": "十月餐费", "share_bp": 2500, "auto_after_days": 30},
                {"name": "十一月餐费", "share_bp": 2500, "auto_after_days": 30},
                {"name": "十二月餐费", "share_bp": 2500, "auto_after_days": 30}],
            "refund": {"deadline_working_days": 15},
            "purchase": {"approvals": ["SCHOOL", "EDUCATION_BUREAU"], "per_purchase_cap": "50000.00"}
        })).await?;
        let canteen = self
            .merchant(
                "南京市鼓楼区示范育英团餐服务有限公司",
                "320106",
                Industry::Canteen,
                "中小学食堂托管",
            )
            .await?;
        self.enroll(canteen_scheme, canteen).await?;
        let school = self
            .regulator(
                "南京市鼓楼区示范实验小学",
                &["320106"],
                &[Industry::Canteen],
            )
            .await?;
        self.bank(AssignCanteenSchool {
            merchant: canteen,
            scheme: canteen_scheme,
            school: school.party_id.context("school")?,
        })
        .await?;

        // Prepaid cards: 20% of the previous quarter's balance in custody, Shanghai-style lines.
        let prepaid_scheme = self.scheme("JS-YFK", "江苏省单用途预付卡资金存管", Industry::PrepaidCard, "320000", &commerce, json!({
            "milestones": [{"name": "消费", "share_bp": 10000, "confirm_by": ["PAYER"]}],
            "release_on_usage": true,
            "custody": {"reference": "PREVIOUS_QUARTER_PREPAID", "ratio_bp": 0,
                "ratio_by_issuer_bp": {"SCALE": 2000, "GROUP": 3000, "BRAND": 4000},
                "warning_lines": [{"when": {"BALANCE_OVER": "200000.00"}, "ratio_bp": 4000},
                                  {"when": {"SHARE_OF_REVENUE_OVER": {"share_bp": 2000, "floor": "200000.00", "cap": "50000000.00"}}, "ratio_bp": 10000}]},
            "validity_days": 730, "expiry_action": "REFUND",
            "refund": {"deadline_working_days": 15}
        })).await?;
        let mut shops = Vec::new();
        for (name, region, issuer, revenue) in [
            (
                "南京市玄武区示范健身有限公司",
                "320102",
                IssuerType::Scale,
                "1800000.00",
            ),
            (
                "苏州市姑苏区示范美容美发店",
                "320508",
                IssuerType::Brand,
                "900000.00",
            ),
            (
                "无锡市梁溪区示范洗衣店",
                "320213",
                IssuerType::Group,
                "30000.00",
            ),
        ] {
            let m = self
                .merchant(name, region, Industry::PrepaidCard, "会员储值卡")
                .await?;
            self.enroll(prepaid_scheme, m).await?;
            self.bank(SetMerchantProfile {
                merchant: m,
                issuer_type: Some(issuer),
                last_year_revenue: Some(money(revenue)),
            })
            .await?;
            shops.push(m);
        }

        // A platform (二清): receipts split among sub-merchants, commission capped at 30%.
        let platform_scheme = self.scheme("JS-PT", "江苏省平台二清合规分账", Industry::Platform, "320000", &commerce, json!({
            "milestones": [{"name": "确认收货", "share_bp": 10000, "confirm_by": ["PAYER"]}],
            "split": {"commission_cap_bp": 3000}
        })).await?;
        let platform = self
            .merchant(
                "南京市示范直播电商平台有限公司",
                "320115",
                Industry::Platform,
                "短视频电商平台",
            )
            .await?;
        self.enroll(platform_scheme, platform).await?;
        let mut sellers = Vec::new();
        for (name, region) in [
            ("南京市示范茶叶商行", "320102"),
            ("苏州市示范丝绸工作室", "320505"),
            ("无锡市示范紫砂壶店", "320211"),
        ] {
            let m = self
                .merchant(name, region, Industry::Platform, "平台入驻商户")
                .await?;
            self.enroll(platform_scheme, m).await?;
            sellers.push(m);
        }
        let association = self
            .bank(RegisterConfirmer {
                name: "江苏省机动车驾驶员培训行业协会".into(),
                kind: ConfirmerKind::TrainingAssociation,
                region: "320000".parse()?,
                schemes: vec![schools[0].0.id, schools[2].0.id],
            })
            .await?
            .id;
        self.exam_confirmer = Some(association);
        let housing_set = self.housing(&housing).await?;
        let medical_set = self.medical(&medical).await?;
        let payroll_set = self.payroll(&labour).await?;
        let agri_set = self.agri(&agriculture).await?;

        let days = if small { 12 } else { HISTORY_DAYS };
        let bar = crate::progress::counter(u64::try_from(days).unwrap_or(0), "days of history");
        let mut first_learner = None;
        for day in 0..days {
            bar.inc(1);
            // New learners: one or two a day, somewhere.
            for _ in 0..if small { 1 } else { self.rng.gen_range(1..=2) } {
                let city = if day == 0 {
                    0
                } else {
                    self.rng.gen_range(0..schools.len())
                };
                let school = schools[city].0.merchants[self.rng.gen_range(0..3)];
                let scheme = schools[city].0.id;
                let payer = self.payer().await?;
                let fee = ["3800.00", "4200.00", "4999.99", "5600.00"][self.rng.gen_range(0..4)];
                let order = self
                    .sell(scheme, school, payer, money(fee), "C1 小型汽车驾驶培训")
                    .await?;
                if first_learner.is_none() && city == 0 {
                    first_learner = Some((school, payer));
                }
                self.live.push(Live {
                    order,
                    industry: Industry::DrivingSchool,
                    by_regulator: schools[city].1.clone(),
                    payer,
                });
            }
            // Canteen term fees at the start of the school year.
            if day == 92 || (small && day == 1) {
                for _ in 0..if small { 3 } else { 30 } {
                    let payer = self.payer().await?;
                    self.sell(
                        canteen_scheme,
                        canteen,
                        payer,
                        money("1520.00"),
                        "2026年秋季学期午餐费",
                    )
                    .await?;
                }
            }
            // Prepaid cards: sales most days; cardholders use them up over time.
            if self.rng.gen_bool(if small { 0.5 } else { 0.6 }) {
                let shop = shops[self.rng.gen_range(0..shops.len())];
                let payer = self.payer().await?;
                let amount = ["500.00", "1000.00", "2000.00", "3000.00"][self.rng.gen_range(0..4)];
                let order = self
                    .sell(prepaid_scheme, shop, payer, money(amount), "会员储值卡")
                    .await?;
                self.live.push(Live {
                    order,
                    industry: Industry::PrepaidCard,
                    by_regulator: None,
                    payer,
                });
            }
            // Platform purchases: the split among the sellers is fixed when the order is
            // opened, and released when the buyer confirms receipt.
            if day % 9 == 3 {
                let payer = self.payer().await?;
                let split = SplitTerms {
                    commission_bp: Bp::new(1000)?,
                    shares: sellers
                        .iter()
                        .enumerate()
                        .map(|(i, m)| SplitShare {
                            merchant: *m,
                            weight: (i as u64) + 1,
                        })
                        .collect(),
                };
                let order = self
                    .sell_split(
                        platform_scheme,
                        platform,
                        payer,
                        money("388.00"),
                        "直播间下单",
                        Some(split),
                    )
                    .await?;
                self.live.push(Live {
                    order,
                    industry: Industry::Platform,
                    by_regulator: None,
                    payer,
                });
            }
            self.progress().await?;
            self.housing_day(day, &housing_set).await?;
            self.medical_day(day, &medical_set).await?;
            self.payroll_day(day, &payroll_set).await?;
            self.agri_day(day, &agri_set).await?;
            if day == 120 || (small && day == 8) {
                self.canteen_purchase(canteen, canteen_scheme, &school, &education)
                    .await?;
            }
            if day % 30 == 29 {
                self.payouts().await?;
            }
            self.next_day().await?;
        }
        bar.finish_and_clear();
        let (merchant, payer) = first_learner.context("no Nanjing learner in the demo")?;
        self.court_case(court, merchant).await?;
        self.blocking_list(schools[1].0.merchants[2]).await?;
        self.statement().await?;
        self.complaint(shops[1]).await?;
        Ok(DemoParties {
            merchant,
            payer,
            regulator: transport[0].party_id.context("regulator")?,
            court,
            confirmer: association,
            orders: self.orders,
        })
    }

    /// Moves open orders along: exams passed, hours approved, cards used, purchases received,
    /// now and then a dropout.
    async fn progress(&mut self) -> anyhow::Result<()> {
        let live = std::mem::take(&mut self.live);
        let mut keep = Vec::new();
        for l in live {
            let order = lvyue_domain::order::get_order(self.escrow.db(), l.order.id).await?;
            if order.status.is_closed() {
                continue;
            }
            if order.settled.is_zero() {
                keep.push(l);
                continue;
            }
            let roll: f64 = self.rng.r#gen();
            match l.industry {
                Industry::DrivingSchool if roll < 0.015 => {
                    self.dropout(&order, l.by_regulator.as_ref()).await?
                }
                Industry::DrivingSchool if roll < 0.12 => self.next_exam(&order, &l).await?,
                Industry::PrepaidCard if roll < 0.25 => {
                    // A visit: the cardholder confirms a use of part of the balance. Custody
                    // may refuse it (the bank keeps the quarter's required share): that is
                    // the rule working, not an error of the demo.
                    let left = order
                        .collected
                        .checked_sub(order.released)?
                        .checked_sub(order.refunded)?;
                    let amount = left.min(money(
                        ["68.00", "128.00", "200.00"][self.rng.gen_range(0..3)],
                    ));
                    if !amount.is_zero() {
                        let p = principal(Role::Payer, l.payer);
                        let n = self.next();
                        let key = IdempotencyKey::new(&format!("demo-{n}"))?;
                        let used = self
                            .escrow
                            .execute(
                                &p,
                                Some(&key),
                                &RecordUsage {
                                    order: order.id,
                                    amount,
                                    reference: format!("POS{n:08}"),
                                },
                            )
                            .await;
                        if let Err(e) = used {
                            anyhow::ensure!(
                                e.code() == lvyue_domain::ErrorCode::InsufficientFunds,
                                "demo: card use: {e}"
                            );
                        }
                    }
                }
                Industry::Platform => {
                    // The buyer confirms receipt; the release is divided by the order's terms.
                    let milestones =
                        lvyue_domain::order::milestones_of(self.escrow.db(), order.id).await?;
                    if milestones
                        .first()
                        .is_none_or(|m| m.status != lvyue_domain::order::MilestoneStatus::Pending)
                    {
                        keep.push(l);
                        continue;
                    }
                    let p = principal(Role::Payer, l.payer);
                    self.as_(
                        &p,
                        ConfirmMilestone {
                            order: order.id,
                            index: 0,
                            as_: ConfirmAs::Payer,
                            approve: true,
                            evidence: "确认收货".into(),
                        },
                    )
                    .await?;
                    continue;
                }
                _ => {}
            }
            keep.push(l);
        }
        self.live = keep;
        Ok(())
    }

    async fn next_exam(&mut self, order: &OrderRecord, l: &Live) -> anyhow::Result<()> {
        let milestones = lvyue_domain::order::milestones_of(self.escrow.db(), order.id).await?;
        let Some(next) = milestones
            .iter()
            .find(|m| m.status == lvyue_domain::order::MilestoneStatus::Pending)
        else {
            return Ok(());
        };
        match &l.by_regulator {
            Some(bureau) => {
                let bureau = bureau.clone();
                self.as_(
                    &bureau,
                    ConfirmMilestone {
                        order: order.id,
                        index: next.index,
                        as_: ConfirmAs::Regulator,
                        approve: true,
                        evidence: "计时培训系统学时核验".into(),
                    },
                )
                .await?;
                if next.index == 3 {
                    let p = principal(Role::Payer, l.payer);
                    self.as_(
                        &p,
                        ConfirmMilestone {
                            order: order.id,
                            index: 3,
                            as_: ConfirmAs::Payer,
                            approve: true,
                            evidence: "结业确认".into(),
                        },
                    )
                    .await?;
                }
            }
            None => {
                let association = principal(
                    Role::Confirmer,
                    self.exam_confirmer
                        .context("demo: no association certifies exams")?,
                );
                let evidence = format!(
                    "协会考试成绩单 KS{}{:06}",
                    order.order_no.get(2..10).unwrap_or(""),
                    self.next()
                );
                self.as_(
                    &association,
                    ConfirmMilestone {
                        order: order.id,
                        index: next.index,
                        as_: ConfirmAs::Evidence,
                        approve: true,
                        evidence,
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A learner drops out: the school proposes a deduction for lessons given, the bureau
    /// approves, the bank refunds the rest by the original route.
    async fn dropout(&mut self, order: &OrderRecord, _: Option<&Principal>) -> anyhow::Result<()> {
        let school = principal(Role::Merchant, order.merchant);
        let unreleased = order.collected.checked_sub(order.released)?;
        let deduction = unreleased.share_floor(Bp::new(1000)?);
        let refund = self
            .as_(
                &school,
                RequestRefund {
                    order: order.id,
                    reason: "学员退学".into(),
                    deduction: Some(deduction),
                    amount: None,
                },
            )
            .await?;
        if refund.status == lvyue_domain::order::RefundStatus::AwaitingApproval {
            let scheme = lvyue_domain::scheme::get_scheme(self.escrow.db(), order.scheme).await?;
            if let Some(reg) = scheme.regulator {
                let r = lvyue_domain::party::get_party(self.escrow.db(), reg).await?;
                let p = Principal {
                    subject: format!("demo-regulator-{reg}"),
                    role: Role::Regulator,
                    party_id: Some(reg),
                    jurisdiction: r.jurisdiction(),
                };
                self.as_(
                    &p,
                    ApproveDeduction {
                        refund: refund.id,
                        approve: true,
                    },
                )
                .await?;
            }
        }
        self.bank(ExecuteRefund { refund: refund.id }).await?;
        Ok(())
    }
}

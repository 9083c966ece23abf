//! Behaviour of the whole crate, through its public API only, on one small corpus.
#![allow(clippy::unwrap_used)]

mod lifecycle;
mod matching;
mod results;
mod scope;

use crate::*;

pub(super) fn merchant(
    id: &str,
    name: &str,
    uscc: &str,
    region: &str,
    industry: &str,
    desc: &str,
) -> Doc {
    Doc::Merchant(MerchantDoc {
        id: id.into(),
        name: name.into(),
        uscc: uscc.into(),
        region: region.into(),
        industry: industry.into(),
        status: "ACTIVE".into(),
        description: desc.into(),
        merchant_id: id.into(),
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn order(
    id: &str,
    order_no: &str,
    m: (&str, &str),
    payer: (&str, &str),
    region: &str,
    industry: &str,
    status: &str,
    remark: &str,
    amount_fen: i64,
    opened_at: i64,
) -> Doc {
    Doc::Order(OrderDoc {
        id: id.into(),
        order_no: order_no.into(),
        merchant_id: m.0.into(),
        merchant_name: m.1.into(),
        payer_id: payer.0.into(),
        payer_masked_name: payer.1.into(),
        scheme_id: format!("sch_{industry}"),
        region: region.into(),
        industry: industry.into(),
        status: status.into(),
        remark: remark.into(),
        amount_fen,
        opened_at,
    })
}

pub(super) const NJ_SCHOOL: (&str, &str) = ("mer_1", "南京市某某驾驶培训有限公司");
pub(super) const XW_SCHOOL: (&str, &str) = ("mer_2", "南京玄武驾校");
pub(super) const SZ_CANTEEN: (&str, &str) = ("mer_3", "苏州某某餐饮管理有限公司");
pub(super) const GYM: (&str, &str) = ("mer_9", "南京某某健身俱乐部");
pub(super) const ACME: (&str, &str) = ("mer_7", "Acme Driving School 南京分校");

pub(super) fn corpus() -> Vec<Doc> {
    vec![
        merchant(
            NJ_SCHOOL.0,
            NJ_SCHOOL.1,
            "91110000600037341L",
            "320102",
            "DRIVING_SCHOOL",
            "科目一到科目四全流程培训",
        ),
        merchant(
            XW_SCHOOL.0,
            XW_SCHOOL.1,
            "91320102MA1XW00012",
            "320102",
            "DRIVING_SCHOOL",
            "",
        ),
        merchant(
            SZ_CANTEEN.0,
            SZ_CANTEEN.1,
            "91310115MA1K3BTP2B",
            "320505",
            "CANTEEN",
            "承包苏州多所学校食堂",
        ),
        merchant(
            "mer_4",
            "苏州工业园区第一中学食堂",
            "91320594MA1ST00034",
            "320506",
            "CANTEEN",
            "",
        ),
        merchant(
            "mer_5",
            "深圳市某某贸易有限公司",
            "91440300MA5SZ00055",
            "440305",
            "PREPAID_CARD",
            "预付卡发行",
        ),
        merchant(
            "mer_6",
            "北京大学出版社",
            "91110108MA0BJ00066",
            "110108",
            "PLATFORM",
            "",
        ),
        merchant(
            ACME.0,
            ACME.1,
            "91320104MA1AC00077",
            "320104",
            "DRIVING_SCHOOL",
            "<外资> & 合资",
        ),
        merchant(
            "mer_8",
            "南京玄武驾校江宁分校",
            "91320115MA1JN00088",
            "320115",
            "DRIVING_SCHOOL",
            "",
        ),
        merchant(
            GYM.0,
            GYM.1,
            "91320104MA1GY00099",
            "320104",
            "PREPAID_CARD",
            "年卡 私教课",
        ),
        order(
            "ord_1",
            "LY20250301000001",
            NJ_SCHOOL,
            ("pay_1", "张**"),
            "320102",
            "DRIVING_SCHOOL",
            "PAID",
            "科目二培训费",
            350_000,
            1_740_000_100,
        ),
        order(
            "ord_2",
            "LY20250301000002",
            NJ_SCHOOL,
            ("pay_2", "李**"),
            "320102",
            "DRIVING_SCHOOL",
            "RELEASED",
            "科目三培训费",
            300_000,
            1_740_000_200,
        ),
        order(
            "ord_3",
            "LY20250302000003",
            SZ_CANTEEN,
            ("pay_1", "张**"),
            "320505",
            "CANTEEN",
            "PAID",
            "三月午餐费",
            45_000,
            1_740_000_300,
        ),
        order(
            "ord_4",
            "LY20250302000004",
            GYM,
            ("pay_3", "王**"),
            "320104",
            "PREPAID_CARD",
            "PAID",
            "年卡续费",
            199_900,
            1_740_000_400,
        ),
        order(
            "ord_5",
            "LY20250303000005",
            XW_SCHOOL,
            ("pay_2", "李**"),
            "320102",
            "DRIVING_SCHOOL",
            "REFUNDED",
            "报名费",
            500_000,
            1_740_000_500,
        ),
        order(
            "ord_6",
            "LY20250303000006",
            ACME,
            ("pay_4", "赵**"),
            "320104",
            "DRIVING_SCHOOL",
            "PAID",
            "Weekend class",
            420_000,
            1_740_000_600,
        ),
        Doc::Event(EventDoc {
            id: "evt_1".into(),
            seq: 1,
            event_type: "ORDER_PAID".into(),
            order_id: Some("ord_1".into()),
            merchant_id: Some(NJ_SCHOOL.0.into()),
            payer_id: Some("pay_1".into()),
            region: Some("320102".into()),
            industry: Some("DRIVING_SCHOOL".into()),
            summary: "张** 支付科目二培训费 3500.00 元".into(),
            at: 1_740_000_150,
        }),
        Doc::Event(EventDoc {
            id: "evt_2".into(),
            seq: 2,
            event_type: "RELEASE_APPROVED".into(),
            order_id: Some("ord_3".into()),
            merchant_id: Some(SZ_CANTEEN.0.into()),
            payer_id: None,
            region: Some("320505".into()),
            industry: Some("CANTEEN".into()),
            summary: "苏州某某餐饮管理有限公司 拨付三月午餐费".into(),
            at: 1_740_000_350,
        }),
    ]
}

pub(super) fn fill(index: &SearchIndex, last_seq: u64) {
    let mut w = index.writer().unwrap();
    for d in corpus() {
        w.upsert(&d).unwrap();
    }
    w.commit(last_seq).unwrap();
}

pub(super) fn fixture() -> SearchIndex {
    let index = SearchIndex::in_memory().unwrap();
    fill(&index, 2);
    index
}

pub(super) fn run(index: &SearchIndex, text: &str, scope: Scope) -> SearchResults {
    let mut req = SearchRequest::new(text, scope);
    req.first = 100;
    index.search(&req).unwrap()
}

pub(super) fn ids(r: &SearchResults) -> Vec<&str> {
    r.hits.iter().map(|h| h.id.as_str()).collect()
}

pub(super) fn find(index: &SearchIndex, text: &str) -> Vec<String> {
    ids(&run(index, text, Scope::All))
        .into_iter()
        .map(String::from)
        .collect()
}

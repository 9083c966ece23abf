//! Names for the demo: realistic, deterministic, and plainly fictitious (某某-free names that
//! belong to no real company are hard to guarantee, so every business name carries 示范).

pub const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
pub const GIVEN: [&str; 24] = [
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
    "秀英", "霞", "平", "刚", "桂英", "晨", "浩然", "子涵",
];

/// A person's name from a number.
pub fn person(n: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[n % SURNAMES.len()],
        GIVEN[(n / SURNAMES.len() + n) % GIVEN.len()]
    )
}

/// A district: its GB/T 2260 code and name.
pub type District = (&'static str, &'static str);

/// Cities of the demo: code, name, districts.
pub const CITIES: [(&str, &str, [District; 3]); 3] = [
    (
        "320100",
        "南京市",
        [
            ("320102", "玄武区"),
            ("320106", "鼓楼区"),
            ("320115", "江宁区"),
        ],
    ),
    (
        "320500",
        "苏州市",
        [
            ("320508", "姑苏区"),
            ("320505", "虎丘区"),
            ("320506", "吴中区"),
        ],
    ),
    (
        "320200",
        "无锡市",
        [
            ("320213", "梁溪区"),
            ("320211", "滨湖区"),
            ("320214", "新吴区"),
        ],
    ),
];

"""The fixed vocabulary of the synthetic Beijing: districts, unit types, industries, banks, name parts.

Weights are rough shares for Beijing, not statistics: enough to make a drop look like the city (朝阳 and 海淀
biggest, mostly small private enterprises, a wide spread of industries covering every row of the 2017 size
table) while keeping every enumeration value present on a few thousand units.
"""

from __future__ import annotations

from dataclasses import dataclass

# (GB/T 2260 code, name, weight)
DISTRICTS: tuple[tuple[str, str, float], ...] = (
    ("110101", "东城区", 5.0),
    ("110102", "西城区", 7.0),
    ("110105", "朝阳区", 22.0),
    ("110106", "丰台区", 8.0),
    ("110107", "石景山区", 2.5),
    ("110108", "海淀区", 18.0),
    ("110109", "门头沟区", 1.5),
    ("110111", "房山区", 3.5),
    ("110112", "通州区", 6.0),
    ("110113", "顺义区", 5.0),
    ("110114", "昌平区", 6.0),
    ("110115", "大兴区", 6.0),
    ("110116", "怀柔区", 2.5),
    ("110117", "平谷区", 1.5),
    ("110118", "密云区", 2.5),
    ("110119", "延庆区", 1.0),
)


@dataclass(frozen=True)
class UnitType:
    name: str  # schema.UNIT_TYPES value
    weight: float
    authority: str  # USCC position 1: registration authority
    category: str  # USCC position 2: organisation category under that authority
    industries: tuple[tuple[str, float], ...]  # industry codes for this type, with weights
    suffixes: tuple[str, ...]  # name endings


# Enterprises take their industry from ENTERPRISE_INDUSTRIES; the others from their own short list.
UNIT_TYPES: tuple[UnitType, ...] = (
    UnitType("enterprise", 87.2, "9", "1", (), ("有限公司", "有限责任公司")),
    UnitType(
        "social_organization",
        2.0,
        "5",
        "1",
        (("9521", 4.0), ("9522", 4.0), ("9529", 2.0)),
        ("协会", "学会", "研究会", "促进会"),
    ),
    UnitType("foundation", 0.5, "5", "3", (("9530", 1.0),), ("基金会", "公益基金会", "慈善基金会")),
    UnitType(
        "social_service_institution",
        2.4,
        "5",
        "2",
        (("83", 4.0), ("8514", 3.0), ("84", 2.0), ("852", 1.0)),
        ("培训学校", "养老服务中心", "社会工作服务中心", "康复中心"),
    ),
    UnitType("law_firm", 1.2, "3", "1", (("7231", 1.0),), ("律师事务所",)),
    UnitType(
        "accounting_firm",
        0.5,
        "9",
        "1",
        (("7241", 1.0),),
        ("会计师事务所（普通合伙）", "会计师事务所有限公司"),
    ),
    UnitType(
        "individual_business",
        4.0,
        "9",
        "2",
        (("52", 4.0), ("62", 4.0), ("80", 2.0), ("81", 1.0), ("5292", 1.0)),
        ("商店", "餐馆", "经营部", "服务部", "便利店"),
    ),
    UnitType("government_agency", 0.4, "1", "1", (("922", 3.0), ("9221", 1.0)), ()),
    UnitType(
        "public_institution",
        1.4,
        "1",
        "2",
        (("83", 3.0), ("84", 2.0), ("73", 1.0), ("8831", 0.5)),
        ("中学", "小学", "社区卫生服务中心", "研究所", "图书馆", "医院"),
    ),
    UnitType("other", 0.4, "8", "1", (("9511", 2.0), ("96", 1.0)), ()),  # names: see names.unit_name
)


@dataclass(frozen=True)
class Industry:
    code: str  # GB/T 4754-2017 division, group or class
    weight: float  # share among enterprises
    word: str  # the industry word in a company name
    revenue_per_employee: float  # median operating revenue per employee, yuan
    asset_ratio: float  # median total assets / revenue


# Covers every row of the 2017 size table (domain.md §4) with 2-, 3- and 4-digit codes.
ENTERPRISE_INDUSTRIES: tuple[Industry, ...] = (
    Industry("01", 0.3, "农业发展", 300_000, 1.0),
    Industry("051", 0.3, "农业科技", 300_000, 0.8),
    Industry("13", 0.4, "食品", 900_000, 0.7),
    Industry("18", 0.4, "服饰", 500_000, 0.6),
    Industry("2319", 0.3, "印刷", 500_000, 0.8),
    Industry("27", 0.4, "医药", 1_200_000, 1.0),
    Industry("34", 0.5, "机械设备", 900_000, 0.9),
    Industry("39", 0.7, "电子", 1_100_000, 0.8),
    Industry("4411", 0.1, "热力", 1_500_000, 2.0),
    Industry("47", 0.6, "建设", 1_200_000, 1.1),
    Industry("48", 1.3, "建筑工程", 1_000_000, 1.1),
    Industry("4910", 0.5, "机电安装", 800_000, 0.9),
    Industry("50", 1.6, "装饰工程", 700_000, 0.8),
    Industry("51", 6.0, "商贸", 3_000_000, 0.6),
    Industry("517", 2.0, "科贸", 2_500_000, 0.6),
    Industry("5137", 0.5, "医疗器械", 2_500_000, 0.6),
    Industry("52", 4.0, "商业", 900_000, 0.5),
    Industry("521", 1.5, "超市", 900_000, 0.5),
    Industry("5261", 0.5, "汽车销售", 2_000_000, 0.6),
    Industry("53", 0.1, "铁路物资", 800_000, 1.5),
    Industry("54", 1.0, "运输", 500_000, 0.9),
    Industry("543", 1.2, "物流", 600_000, 0.8),
    Industry("58", 0.8, "货运代理", 1_000_000, 0.5),
    Industry("59", 0.5, "仓储", 500_000, 1.2),
    Industry("602", 0.4, "快递", 300_000, 0.5),
    Industry("61", 0.8, "酒店管理", 300_000, 2.0),
    Industry("62", 2.5, "餐饮", 250_000, 0.5),
    Industry("621", 1.5, "餐饮管理", 250_000, 0.5),
    Industry("63", 0.4, "通信", 1_500_000, 1.2),
    Industry("64", 2.5, "网络科技", 900_000, 0.8),
    Industry("642", 1.0, "互联网信息服务", 900_000, 0.8),
    Industry("65", 7.0, "科技", 600_000, 0.7),
    Industry("651", 3.0, "软件", 600_000, 0.7),
    Industry("6513", 2.0, "软件技术", 600_000, 0.7),
    Industry("654", 1.5, "信息技术", 600_000, 0.7),
    Industry("66", 0.2, "金融服务", 2_000_000, 5.0),
    Industry("67", 0.5, "资本管理", 1_500_000, 4.0),
    Industry("68", 0.3, "保险代理", 600_000, 1.0),
    Industry("69", 0.5, "金融信息服务", 800_000, 1.5),
    Industry("7010", 1.0, "房地产开发", 4_000_000, 4.0),
    Industry("702", 1.2, "物业管理", 150_000, 0.5),
    Industry("7020", 0.8, "物业服务", 150_000, 0.5),
    Industry("703", 1.0, "房地产经纪", 300_000, 0.4),
    Industry("70", 0.3, "置业", 800_000, 2.0),
    Industry("71", 0.8, "租赁", 800_000, 2.5),
    Industry("711", 0.4, "设备租赁", 800_000, 3.0),
    Industry("72", 4.0, "咨询", 500_000, 1.0),
    Industry("7212", 1.5, "投资管理", 600_000, 3.0),
    Industry("725", 2.5, "广告", 700_000, 0.7),
    Industry("728", 1.2, "会展服务", 600_000, 0.6),
    Industry("7262", 0.4, "人才服务", 400_000, 0.4),
    Industry("7269", 0.3, "人力资源", 400_000, 0.4),
    Industry("729", 2.0, "商务服务", 500_000, 0.8),
    Industry("73", 1.0, "研究院", 500_000, 1.0),
    Industry("74", 2.5, "工程技术", 600_000, 0.8),
    Industry("75", 6.0, "科技发展", 500_000, 0.8),
    Industry("77", 0.5, "环保科技", 600_000, 1.0),
    Industry("78", 0.4, "园林绿化", 400_000, 0.8),
    Industry("80", 1.5, "家政服务", 150_000, 0.3),
    Industry("81", 0.8, "汽车维修", 300_000, 0.6),
    Industry("82", 0.6, "保洁服务", 120_000, 0.3),
    Industry("83", 1.5, "教育科技", 300_000, 0.6),
    Industry("84", 0.7, "医疗管理", 500_000, 0.9),
    Industry("86", 1.0, "文化传媒", 600_000, 0.7),
    Industry("87", 1.2, "影视文化", 900_000, 1.0),
    Industry("88", 0.8, "文化艺术", 400_000, 0.7),
    Industry("89", 0.6, "体育文化", 400_000, 0.8),
    Industry("90", 0.4, "娱乐", 300_000, 0.8),
)

# Labour-dispatch and HR-service firms (contracts §2.1, DISPATCH_UNCONFIRMED): GB/T 4754-2017 class 7263 is
# 劳务派遣服务, group 726 人力资源服务.
DISPATCH_INDUSTRIES: tuple[tuple[str, float], ...] = (("7263", 8.0), ("726", 1.0), ("7269", 1.0))
DISPATCH_WORD = "劳务派遣"

# Only used for naming non-enterprise types and dispatch firms: revenue per employee for their latent size.
DEFAULT_REVENUE_PER_EMPLOYEE = 300_000.0
DEFAULT_ASSET_RATIO = 0.8

# Characters of trade names (字号); a name takes two, sometimes three.
TRADE_CHARS = (
    "华信达鑫盛恒博瑞宏泰金源通远中科创智新安和嘉联天海德正光明东方京世佳诚益永丰润宇航星辰云峰汇众合力"
    "兴隆昌顺凯腾奥维思睿晨旭阳春秋悦美鼎尚品优捷锐弘毅志伟蓝图易普康宁福祥瑞丰利广致远卓越博雅睿智"
    "启明精诚同创汉唐宏图奇正聚英华夏亿通万达九州长城燕京百川千里金桥银河天成宏达立信君和中正乐"
)

# Government departments, for agency names: 北京市<区><department>.
GOVERNMENT_DEPARTMENTS = (
    "人力资源和社会保障局",
    "市场监督管理局",
    "民政局",
    "财政局",
    "生态环境局",
    "文化和旅游局",
    "卫生健康委员会",
    "教育委员会",
    "住房和城乡建设委员会",
    "城市管理委员会",
    "商务局",
    "科学技术委员会",
)

# CNAPS bank codes, weights, and the shape of their corporate account numbers (prefix, total length 12-19).
BANKS: tuple[tuple[str, float, str, int], ...] = (
    ("102", 20.0, "0200", 19),  # ICBC
    ("103", 8.0, "1121", 17),  # Agricultural Bank
    ("104", 10.0, "3", 12),  # Bank of China
    ("105", 14.0, "1105", 19),  # China Construction Bank
    ("301", 7.0, "1100", 18),  # Bank of Communications
    ("302", 4.0, "8110", 19),  # CITIC
    ("303", 3.0, "3511", 15),  # Everbright
    ("304", 3.0, "1025", 16),  # Hua Xia
    ("305", 3.0, "1541", 14),  # Minsheng
    ("306", 1.5, "9550", 19),  # Guangfa
    ("307", 1.5, "1101", 14),  # Ping An
    ("308", 6.0, "1109", 15),  # China Merchants
    ("309", 2.0, "3210", 18),  # Industrial Bank
    ("310", 2.0, "9108", 17),  # SPDB
    ("313", 11.0, "2000", 16),  # Bank of Beijing (city commercial)
    ("403", 1.5, "9110", 18),  # Postal Savings Bank
    ("314", 2.0, "0801", 19),  # rural commercial bank (paid in the later batch)
    ("402", 0.5, "1109", 18),  # rural credit cooperative (paid in the later batch)
)

# Partner departments publishing each list (credit_flags.source).
FLAG_SOURCES: dict[str, tuple[tuple[str, float], ...]] = {
    "serious_dishonesty": (("发展改革委", 5.0), ("市场监管局", 3.0), ("人力社保局", 2.0)),
    "abnormal_operation": (("市场监管局", 1.0),),
    "commitment_breach": (("人力社保局", 1.0),),
}

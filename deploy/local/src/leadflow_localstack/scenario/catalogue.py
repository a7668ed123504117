"""What the demo's leads are made of: senders, channels, places, industries, titles and BANT answers, with how
often each comes up. Faker (zh_CN) gives the people and the companies; its provinces and cities are drawn
apart from each other, so the places come from this table, where every city is in its province and has the
position a field rep checks in at."""

from __future__ import annotations

from dataclasses import dataclass

EAST, SOUTH = "east", "south"  # the two sales regions, one team each (deploy/local/demo/org.yaml)
TEAM_OF_REGION = {EAST: "east-inside", SOUTH: "south-field"}


@dataclass(frozen=True)
class Sender:
    """Who posts leads with an API key of his own: a channel partner, or the company's own channels."""

    key: str  # the demo's name for it
    name: str  # the partner's name (`leadflow partners create NAME`)
    share: float  # of all submissions
    regions: tuple[str, ...]  # where its leads come from
    channels: tuple[tuple[str, float], ...]  # `source` of its leads, weighted


OWN = "own"
SENDERS = (
    Sender("east-partner", "易客渠道（华东）", 0.22, (EAST,), (("channel_partner", 1.0),)),
    Sender("south-partner", "粤商通（华南）", 0.16, (SOUTH,), (("channel_partner", 1.0),)),
    Sender("national-partner", "云链联盟（全国）", 0.14, (EAST, SOUTH), (("channel_partner", 1.0),)),
    # the company's own channels post through the same API with a key of their own
    Sender(OWN, "自有渠道（市场部）", 0.48, (EAST, SOUTH), (
        ("website", 0.30), ("offline_event", 0.18), ("referral", 0.14), ("sales_self_sourced", 0.10),
        ("wechat_official_account", 0.14), ("hotline_400", 0.08), ("paid_ads", 0.06))),
)
PARTNERS = tuple(s for s in SENDERS if s.key != OWN)
# channels whose lead names a rep as referrer: 转介绍 (the rep whose customer referred it) and 自拓 (his own)
REP_REFERRED = ("referral", "sales_self_sourced")


@dataclass(frozen=True)
class Place:
    province: str
    city: str
    latitude: float
    longitude: float
    region: str
    weight: float


PLACES = (
    Place("上海", "上海", 31.2304, 121.4737, EAST, 14),
    Place("浙江", "杭州", 30.2741, 120.1551, EAST, 9),
    Place("浙江", "宁波", 29.8683, 121.5440, EAST, 4),
    Place("江苏", "南京", 32.0603, 118.7969, EAST, 6),
    Place("江苏", "苏州", 31.2990, 120.5853, EAST, 7),
    Place("北京", "北京", 39.9042, 116.4074, EAST, 10),
    Place("山东", "济南", 36.6512, 117.1201, EAST, 3),
    Place("安徽", "合肥", 31.8206, 117.2272, EAST, 3),
    Place("湖北", "武汉", 30.5928, 114.3055, EAST, 4),
    Place("四川", "成都", 30.5728, 104.0668, EAST, 4),
    Place("广东", "深圳", 22.5431, 114.0579, SOUTH, 12),
    Place("广东", "广州", 23.1291, 113.2644, SOUTH, 10),
    Place("广东", "东莞", 23.0207, 113.7518, SOUTH, 4),
    Place("广东", "佛山", 23.0215, 113.1214, SOUTH, 4),
    Place("福建", "厦门", 24.4798, 118.0894, SOUTH, 4),
    Place("福建", "福州", 26.0745, 119.2965, SOUTH, 3),
)

# 国民经济行业分类, the names scoring's default rules know (core, good, public sector) and a few others
INDUSTRIES = (
    ("软件和信息技术服务业", 18), ("互联网和相关服务", 10), ("制造业", 20), ("批发和零售业", 12), ("金融业", 6),
    ("租赁和商务服务业", 8), ("科学研究和技术服务业", 6), ("教育", 6), ("建筑业", 6),
    ("公共管理、社会保障和社会组织", 3), ("住宿和餐饮业", 5),
)
TITLES = (
    ("总经理", 6), ("CEO", 3), ("创始人", 3), ("副总裁", 2), ("IT 总监", 6), ("销售总监", 7), ("市场负责人", 5),
    ("销售经理", 10), ("IT 经理", 6), ("运营主管", 6), ("采购经理", 5), ("销售专员", 6), ("行政助理", 4),
    (None, 6),  # a Faker job (印刷工, 培训督导…): what people type into a form
)
JUNK_TITLES = ("学生", "应届毕业生", "求职者", "实习生")
PRODUCTS = ("CRM 企业版", "CRM 标准版", "营销自动化", "呼叫中心", "销售易连接器")

# BANT answers as people give them; scoring decides which count as positive (leadflow_scoring.domain.scoring)
BANT_POSITIVE = {
    "budget": ("预算50万", "已有预算", "预算20万以内", "有预算，年底前用完"),
    "authority": ("决策人", "总经理拍板", "IT 负责人，可签字", "老板亲自跟进"),
    "need": ("替换现有CRM", "销售过程管理混乱，需要系统", "需要对接企业微信", "渠道线索太多管不过来"),
    "timeline": ("3个月内", "本季度", "尽快", "下个月上线"),
}
BANT_NEGATIVE = {
    "budget": ("暂无预算", "没有预算", "待定"),
    "authority": ("不清楚",),
    "timeline": ("半年后", "明年再说", "待定"),
}

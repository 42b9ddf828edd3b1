"""A held-out set for the token-rule tests: items no stand-in tokenizer was trained on, written to sit on
the boundaries a real BPE merges across (a context ending in punctuation, a cloze stem with no final
punctuation, an ending that starts with a digit, an apostrophe or a quote, trailing whitespace and line
breaks after a context). Rows in the bundled sample sets' format (`Item` fields)."""

from __future__ import annotations

from s2sbench_hf.tasks import Item

ENGLISH = [
    ("Ana missed the last bus home.", ["She called her brother for a ride.", "She flew home on a paper plane."]),
    ("The storm knocked out the power!", ["We lit candles and played cards.", "The fridge got colder than ever."]),
    ("Why was the shop closed on Monday?", ["It was a public holiday.", "Shops never open on any day."]),
    ('Leo said, "I will win the race."', ['"I trained all year," he added.', '"I hate running," he added.']),
    ("Kim planted tomatoes in April. ", ["By July she picked the first ones.", "By July they turned into roses."]),
    ("Sam counted his savings.\n", ["200 dollars was enough for a bike.", "0 coins bought him a house."]),
    ("The baby's first word came at last", ["'Mama,' she said, and everyone cheered.", "'Taxes,' she said firmly."]),
    ("Raj burned the toast again...", ["...so he made a fresh slice.", "...so he painted the kitchen."]),
    ("The team lost 3-0 at home.", ["Fans left the stadium quietly.", "Fans celebrated the big win."]),
    ("It was 7:45 and class began at 8:00.", ["Mia ran to catch the bus.", "Mia decided to take a nap."]),
    ("Dad fixed the leaking tap;", ["the dripping finally stopped.", "the tap started to sing."]),
    ("\tOld Mr. Chen fed the ducks. \t ", ["(He did this every morning.)", "(He had never seen a duck.)"]),
]
"""Contexts and their (plausible, implausible) endings."""

CHINESE = [
    ("小红的雨伞忘在了教室里", ["她只好冒雨跑回家。", "她的雨伞自己走回了家。"]),
    ("今天是妈妈的生日，", ["我们给她买了一个蛋糕。", "我们决定把家搬到月球。"]),
    ("爷爷每天早上都去公园打太极。", ["他的身体一直很健康。", "他每天都在公园里游泳。"]),
    ("比赛还剩最后1分钟", ["2号球员投进了关键一球。", "0个人在场上比赛。"]),
    ("老师问：“谁知道答案？”", ["“我知道！”小刚举起了手。", "“我不会说话。”黑板回答。"]),
    ("他打开冰箱一看  ", ["里面空空的，只好出去买菜。", "里面下起了大雪和冰雹。"]),
]

SCMMLU = [
    ("中国的首都是", ["上海", "北京", "广州", "深圳"], 1),
    ("一年有几个季节", ["两个", "三个", "四个", "五个"], 2),
    ("水在标准大气压下的沸点是多少摄氏度？", ["100", "90", "80", "120"], 0),
    ("《红楼梦》的作者是", ["罗贯中", "施耐庵", "吴承恩", "曹雪芹"], 3),
    ("光的传播速度约为每秒", ["30万公里", "3万公里", "300公里", "3000公里"], 0),
    ("下列哪一个是哺乳动物", ["鲨鱼", "鲸鱼", "金鱼", "章鱼"], 1),
]


def heldout_items(task: str) -> list[Item]:
    """The held-out items of ``task`` (``sstorycloze``, ``zh_sstorycloze`` or ``scmmlu``), text only."""
    if task == "scmmlu":
        return [Item(task, f"held-{i}", q, list(c), label) for i, (q, c, label) in enumerate(SCMMLU)]
    stories = ENGLISH if task == "sstorycloze" else CHINESE
    return [Item(task, f"held-{i}", context, list(endings), 0) for i, (context, endings) in enumerate(stories)]

#!/usr/bin/env python3
"""Writes demo/lanjiang.jsonl: the bundled demo data set of `tidewatch demo`.

Everything here is fictional: Lanjiang University of Technology (澜江理工大学) in the city of
Lanjiang (澜江市), its units, the media outlets, and every account name. Domains use the reserved
`.example` top-level domain. Run `python3 demo/generate.py` to regenerate; the output is
deterministic (fixed seed).

Three weeks of public talk, in Chinese and English:
- a developing incident: students fall ill after eating at canteen No. 3 (第三食堂), from first
  posts through media coverage, the university's statements, the inspection result and follow-up;
- a rumour (that a student died and the campus will be closed) and its official clarification;
- inquiries and complaints (heating, course registration outage, fees, shuttle buses);
- constructive suggestions (library hours, bike lanes, canteen transparency);
- ordinary chatter (autumn scenery, sports day, exams, clubs);
- repost chains (`//@name:`), retweets (`RT @name:`), copies with a trailing link, changed
  punctuation or traditional characters.
"""
import json
import os
import random
from datetime import datetime, timedelta, timezone

random.seed(20261005)
HERE = os.path.dirname(os.path.abspath(__file__))
TZ = timezone(timedelta(hours=8))
START = datetime(2026, 10, 5, 7, 0, tzinfo=TZ)
DAYS = 21

# Simplified -> traditional, inverted from the OpenCC table shipped with tidewatch-text.
S2T = {}
with open(os.path.join(HERE, "..", "crates", "text", "data", "TSCharacters.txt"), encoding="utf-8") as f:
    for line in f:
        t, s = line.rstrip("\n").split("\t")
        if len(t) == 1 and len(s) == 1 and s not in S2T:
            S2T[s] = t


def to_trad(s):
    return "".join(S2T.get(c, c) for c in s)


ZH_HANDLES = ["北苑打工人", "澜大小透明", "南湖边的猫", "机械楼钉子户", "图书馆占座王", "早八困难户", "澜江吃货", "考研上岸中",
              "化工系老学长", "新生小白", "篮球场常客", "夜跑的风", "自习室幽灵", "南湖校区土著", "澜江老街坊", "滨湖区居民",
              "食堂观察员", "实验室搬砖", "吃瓜群众甲", "吃瓜群众乙", "澜江日报", "澜江发布", "澜江城事", "校园记者团"]
EN_HANDLES = ["lut_sophomore", "lanjiang_local", "exchange_emma", "gradstudent_k", "campus_runner", "lanjiang_herald",
              "intl_office_fan", "nightowl_coder", "bikecommuter22", "physics_tutor", "parent_of_fresher", "foodie_in_lanjiang"]

items = []
counter = [0]


def add(t, text, source, lang, title="", url=None, author=None, id_prefix="d"):
    counter[0] += 1
    iid = f"{id_prefix}{counter[0]:05d}"
    it = {"id": iid, "source": source, "published_at": t.isoformat(), "lang": lang}
    if title:
        it["title"] = title
    it["text"] = text
    if url:
        it["url"] = url
    if author:
        it["author"] = author
    items.append(it)
    return it


def at(day, hour, minute=None):
    return START + timedelta(days=day, hours=hour - 7, minutes=random.randint(0, 59) if minute is None else minute)


def rand_time(day_lo=0, day_hi=DAYS):
    d = random.uniform(day_lo, day_hi)
    t = START + timedelta(days=d)
    # people post less at night
    if t.hour < 7:
        t += timedelta(hours=7)
    return t.replace(second=random.randint(0, 59), microsecond=0)


def weibo_url():
    return f"https://weibo.example/{random.randint(10**9, 10**10)}/{random.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{random.randint(10**6, 10**7)}"


def reposts(orig, n, t0, spread_hours, lang):
    """Repost chains and copies of an original post."""
    handles = ZH_HANDLES if lang == "zh" else EN_HANDLES
    base_author = orig.get("author", random.choice(handles))
    chain = []
    for _ in range(n):
        t = t0 + timedelta(hours=random.expovariate(1.0 / spread_hours))
        h = random.choice(handles)
        kind = random.random()
        if lang == "zh":
            comment = random.choice(["转发微博", "关注", "希望尽快处理", "太离谱了", "蹲一个后续", "学校快出来说明一下", "真的假的？",
                                     "身边同学也有类似情况", "理性看待，等官方通报", "转给大家看看", "心疼同学们", "[怒]", "求真相"])
            if kind < 0.45:
                prev = f"//@{chain[-1]}:{random.choice(['顶', '关注', '同问'])}" if chain and random.random() < 0.5 else ""
                text = f"{comment}{prev}//@{base_author}:{orig['text']}"
            elif kind < 0.6:
                text = orig["text"] + " " + random.choice(["https://t.example/", "http://lnk.example/s/"]) + f"{random.randint(1000, 9999)}"
            elif kind < 0.75:
                text = to_trad(orig["text"])
            elif kind < 0.88:
                text = orig["text"].replace("，", " ").replace("。", "！").replace("：", ":")
            else:
                text = f"{comment} {orig['text']}"
            add(t, text, random.choice(["weibo", "weibo", "forum:澜大BBS"]), "zh", url=weibo_url(), author=h)
        else:
            if kind < 0.6:
                text = f"RT @{base_author}: {orig['text']}"
            elif kind < 0.8:
                text = f"{random.choice(['This.', 'Wow.', 'Hope they fix it.', 'Worrying.', 'Interesting'])} RT @{base_author}: {orig['text']}"
            else:
                text = orig["text"] + f" https://t.example/{random.randint(1000, 9999)}"
            add(t, text, "twitter", "en", url=f"https://x.example/{h}/status/{random.randint(10**15, 10**16)}", author=h)
        chain.append(h)


# ---------------------------------------------------------------------------
# 1. The developing incident: canteen No. 3.
# ---------------------------------------------------------------------------
incident_day = 6  # 2026-10-11
symptoms = ["腹泻", "呕吐", "发烧", "肚子疼", "头晕"]
dishes = ["麻辣香锅", "凉拌菜", "卤肉饭", "鸡蛋羹", "酸菜鱼", "炒河粉"]
first_posts = []
for k in range(14):
    t = at(incident_day, 20 + k // 6, random.randint(0, 59)) + timedelta(minutes=17 * k)
    d = random.choice(dishes)
    s1, s2 = random.sample(symptoms, 2)
    text = random.choice([
        f"中午在北苑第三食堂吃了{d}，晚上开始{s1}{s2}，宿舍{random.randint(2, 4)}个人都这样，有没有同学也中招了？",
        f"澜江理工第三食堂是不是出问题了？今天吃完{d}一直{s1}，校医院排队的全是同学，已经排了{random.randint(1, 3)}个小时。",
        f"北苑校区校医院现在全是{s1}的学生，大家都说中午吃了第三食堂的{d}，有没有人管管？",
        f"室友吃了第三食堂的{d}后{s1}到半夜，已经送去校医院挂水了。第三食堂的卫生到底有没有人检查？",
    ])
    o = add(t, text, random.choice(["weibo", "forum:澜大BBS"]), "zh", url=weibo_url(), author=random.choice(ZH_HANDLES[:19]))
    first_posts.append(o)
for o in first_posts[:8]:
    reposts(o, random.randint(4, 14), datetime.fromisoformat(o["published_at"]), 6, "zh")

en_first = add(at(incident_day + 1, 9), "Dozens of students at Lanjiang University of Technology fell ill after eating at the No. 3 canteen on the north campus last night. The campus clinic says it treated students for vomiting and diarrhoea.",
               "twitter", "en", url="https://x.example/lanjiang_herald/status/1", author="lanjiang_herald")
reposts(en_first, 18, at(incident_day + 1, 9, 30), 8, "en")
for k in range(10):
    add(at(incident_day + 1, 10 + k), random.choice([
        f"My roommate is one of the students who got sick after the canteen dinner. She's been at the campus clinic since {random.randint(1, 11)}pm. Still no word from the university.",
        f"Exchange students at LUT got no notice in English about the canteen No. 3 illness. We had to ask our Chinese classmates what happened. Day {k + 1} of guessing.",
        f"Is canteen No. 3 at Lanjiang Tech still open? Friends say {random.randint(20, 60)} people went to the clinic last night. Asking before I go for lunch.",
        f"Parents group chat is going crazy about the food poisoning reports at Lanjiang University of Technology. The university needs to say something clear, and soon (update {k + 1}).",
    ]), "twitter", "en", url=f"https://x.example/u/status/{random.randint(10**15, 10**16)}", author=random.choice(EN_HANDLES))

news = [
    (incident_day + 1, 11, "news:澜江日报", "zh", "澜江理工大学数十名学生就餐后身体不适 校方：已送医观察",
     "本报讯 10月11日晚，澜江理工大学北苑校区多名学生在第三食堂就餐后出现腹泻、呕吐等症状，陆续前往校医院就诊。记者从校方了解到，截至12日上午，共有47名学生就诊，其中6人留院观察，均无生命危险。学校已暂停第三食堂营业，并配合市场监管部门和疾控中心开展调查。",
     "https://news.lanjiang-daily.example/2026/10/12/lut-canteen.html?utm_source=weibo&spm=a2c.1"),
    (incident_day + 1, 15, "news:Lanjiang Herald", "en", "Dozens ill after meals at Lanjiang university canteen",
     "Forty-seven students at Lanjiang University of Technology sought treatment after eating at the north campus No. 3 canteen on Sunday evening, the university said. Six remain under observation. The canteen has been closed while the city market regulator and the disease control centre investigate.",
     "https://lanjiangherald.example/news/2026/10/12/canteen-illness"),
    (incident_day + 1, 17, "wechat:澜江理工大学", "zh", "关于北苑校区第三食堂学生就餐后身体不适情况的通报",
     "10月11日晚，我校北苑校区部分学生在第三食堂就餐后出现身体不适。学校第一时间启动应急预案，组织校医院全力救治，目前就诊学生47人，6人留院观察，病情平稳。第三食堂已暂停营业，相关食品留样已送疾控中心检测。学校将及时公布调查结果，感谢同学们和家长的关心。澜江理工大学 2026年10月12日",
     "https://www.lut.example/info/1012/notice.htm"),
    (incident_day + 2, 10, "news:澜江城事", "zh", "澜江理工食堂事件追踪：学生家长质疑食堂承包商资质",
     "第三食堂事件发生第二天，多名学生家长向本报反映，第三食堂由校外公司承包经营，质疑其资质和日常监管。澜江理工大学后勤集团回应称，承包商证照齐全，学校每月组织卫生检查，具体原因以检测结果为准。",
     "https://citynews.lanjiang.example/a/20261013/88231.html#comments"),
    (incident_day + 4, 16, "news:澜江日报", "zh", "检测结果出炉：澜江理工第三食堂凉拌菜检出致病菌",
     "澜江市市场监管局15日通报，澜江理工大学第三食堂留样的凉拌菜中检出副溶血性弧菌，系此次学生集体腹泻的原因。监管部门已对承包商立案调查。学校表示将更换承包商，对全校食堂开展为期一个月的食品安全专项检查，并承担学生全部医疗费用。",
     "https://news.lanjiang-daily.example/2026/10/15/lut-test-result.html"),
    (incident_day + 4, 18, "news:Lanjiang Herald", "en", "Test finds bacteria in canteen salad behind student illness",
     "The Lanjiang market regulator said on Thursday that Vibrio parahaemolyticus was found in cold dishes kept as samples at the No. 3 canteen of Lanjiang University of Technology. The university said it will replace the contractor, inspect every canteen over the next month and pay all medical costs.",
     "https://lanjiangherald.example/news/2026/10/15/canteen-test-result?utm_campaign=share"),
    (incident_day + 5, 9, "wechat:澜江理工大学", "zh", "关于第三食堂事件调查结果及整改措施的通报",
     "根据市场监管部门检测结果，第三食堂事件系凉拌菜受副溶血性弧菌污染所致。学校决定：一、终止与承包商的合同；二、对全校食堂开展食品安全专项检查；三、承担就诊学生全部医疗费用；四、建立食堂信息公开栏，每日公示食材来源和检查记录。欢迎师生监督。",
     "https://www.lut.example/info/1016/rectify.htm"),
    (incident_day + 9, 10, "news:澜江日报", "zh", "第三食堂更换经营方后重新开业 学生代表参与验收",
     "停业十天后，澜江理工大学北苑第三食堂20日重新开业。新的经营方由学校公开招标确定，开业前学生代表参与了现场验收。食堂门口新设信息公开栏，每日公示食材来源和检查记录。",
     "https://news.lanjiang-daily.example/2026/10/20/canteen-reopens.html"),
]
news_items = []
for day, hour, src, lang, title, text, url in news:
    news_items.append(add(at(day, hour), text, src, lang, title=title, url=url, author=None))
# Media copies: other outlets republish the first report with small changes.
for o in news_items[:1] + news_items[4:5]:
    for outlet in ["news:澜江晚报", "news:澜江网", "news:滨湖新闻", "portal:澜江门户"]:
        t = datetime.fromisoformat(o["published_at"]) + timedelta(minutes=random.randint(20, 400))
        add(t, o["text"].replace("本报讯", "据澜江日报报道，"), outlet, "zh", title=o["title"],
            url=f"https://{random.choice(['evening', 'www', 'binhu', 'portal'])}.lanjiang-media.example/{random.randint(10**5, 10**6)}.html")
reposts(news_items[4], 20, datetime.fromisoformat(news_items[4]["published_at"]), 10, "zh")
reposts(news_items[2], 16, datetime.fromisoformat(news_items[2]["published_at"]), 5, "zh")
reposts(news_items[1], 10, datetime.fromisoformat(news_items[1]["published_at"]), 6, "en")

reactions_zh = ["学校这次处理速度还可以，希望检测结果公开透明。", "医疗费用学校承担，这个态度可以。", "食堂承包商必须追责，不能一换了之。",
                "为什么要等媒体报道了才发通报？第一时间就该告诉大家。", "信息公开栏是好事，希望能坚持下去不是做样子。", "第三食堂重新开业了，去吃了一次，明显干净多了。",
                "其他食堂也要查一查，凉拌菜天热真的容易出问题。", "建议学校给留院观察的同学补考安排，别耽误期中考试。", "校医院那天晚上辛苦了，医生护士一直忙到凌晨。",
                "后勤集团说每月检查，那这次怎么没查出来？", "希望以后食堂的检查记录能在网上也公示。", "出了事学校没有第一时间回应，家长都是从网上知道的。"]
for k in range(90):
    t = rand_time(incident_day + 1, incident_day + 12)
    text = random.choice(reactions_zh) + random.choice(["", "", " #澜江理工食堂#", " 坐等后续。", f" 已经第{(t - at(incident_day, 20, 0)).days + 1}天了。", " 大家怎么看？"])
    text = f"{random.choice(['', '说实话，', '作为北苑的学生，', '家长路过，', '校友表示，'])}{text}"
    add(t, text, random.choice(["weibo", "weibo", "forum:澜大BBS", "zhihu"]), "zh", url=weibo_url(), author=random.choice(ZH_HANDLES))
reactions_en = ["Good that the university will pay the medical bills. Now publish the inspection records.",
                "The canteen reopened with a public notice board listing where the food comes from. Small step, but a good one.",
                "Why did it take a newspaper report before the university said anything about the canteen?",
                "Glad everyone from the canteen incident is out of the clinic. The staff there worked all night.",
                "Would be great if the notices about the canteen were also posted in English for international students."]
for k in range(40):
    add(rand_time(incident_day + 1, incident_day + 13), random.choice(reactions_en) + random.choice(["", " Just my two cents.", " #LUT", f" ({random.choice(['north campus', 'south lake campus', 'dorm 7', 'lab building'])})"]),
        "twitter", "en", url=f"https://x.example/u/status/{random.randint(10**15, 10**16)}", author=random.choice(EN_HANDLES))

# ---------------------------------------------------------------------------
# 2. The rumour and its clarification.
# ---------------------------------------------------------------------------
rumour_day = incident_day + 2
rumour = add(at(rumour_day, 22, 13), "听说澜江理工食堂事件有个学生已经抢救无效死亡了，学校在封锁消息，北苑校区下周要全面封校！大家赶紧转起来！",
             "weibo", "zh", url=weibo_url(), author="吃瓜群众甲")
reposts(rumour, 45, at(rumour_day, 22, 30), 4, "zh")
rumour_en = add(at(rumour_day + 1, 8), "Unconfirmed: a student at Lanjiang University of Technology has died after the canteen poisoning and the north campus will be locked down next week.",
                "twitter", "en", url="https://x.example/anon/status/2", author="nightowl_coder")
reposts(rumour_en, 12, at(rumour_day + 1, 8, 20), 5, "en")
clar = add(at(rumour_day + 1, 11, 0), "【澜江理工大学郑重声明】近日网传“我校学生因食堂事件死亡”“北苑校区将封校”等消息不实。截至目前，所有就诊学生病情平稳，已有41人康复返校，6名留院观察学生无生命危险。学校正常教学秩序不受影响。请广大师生不信谣、不传谣，以学校官方渠道发布的信息为准。",
           "wechat:澜江理工大学", "zh", title="关于网传不实信息的澄清声明", url="https://www.lut.example/info/1014/statement.htm")
reposts(clar, 30, at(rumour_day + 1, 11, 10), 6, "zh")
add(at(rumour_day + 1, 13), "澜江市公安局滨湖分局：网传“澜江理工大学学生死亡、封校”系谣言，发布者已被批评教育。请市民理性看待，不信谣不传谣。",
    "weibo", "zh", url=weibo_url(), author="澜江发布")
clar_en = add(at(rumour_day + 1, 14), "Lanjiang University of Technology says reports that a student died after the canteen illness are false. All students treated are stable and the campus is open as usual.",
              "twitter", "en", url="https://x.example/lanjiang_herald/status/3", author="lanjiang_herald")
reposts(clar_en, 10, at(rumour_day + 1, 14, 20), 5, "en")

# ---------------------------------------------------------------------------
# 3. Inquiries and complaints, suggestions, chatter: spread over all three weeks.
# ---------------------------------------------------------------------------
buildings = ["北苑7号楼", "北苑12号楼", "南湖3号楼", "南湖9号楼", "研究生公寓A座", "留学生公寓"]
inquiries = [
    lambda: f"请问{random.choice(buildings)}什么时候开始供暖？这几天晚上只有{random.randint(6, 12)}度，宿舍冷得睡不着。",
    lambda: f"选课系统又崩了！{random.choice(['早上8点', '中午12点', '晚上8点'])}准时开抢，转了{random.randint(10, 40)}分钟圈圈进不去，教务处能不能扩容一下？",
    lambda: f"想问一下澜江理工{random.choice(['研究生', '本科', '留学生'])}的{random.choice(['住宿费', '学费', '体检费'])}为什么今年涨了{random.randint(5, 30)}%？有没有公开说明？",
    lambda: f"南湖校区到北苑校区的校车{random.choice(['早上', '晚上', '周末'])}班次太少了，等了{random.randint(20, 50)}分钟还没来，能不能加几班？",
    lambda: f"{random.choice(buildings)}的热水又停了，{random.choice(['周一', '周三', '周五', '周末'])}已经第{random.randint(2, 5)}次了，后勤集团能给个说法吗？",
    lambda: f"请问学校图书馆{random.choice(['期中考试', '考研', '期末'])}期间会不会延长开放时间？现在晚上{random.choice(['9点半', '10点'])}就清场了。",
    lambda: f"校园网{random.choice(['晚上', '下午', '整个周末'])}一直掉线，{random.choice(buildings)}网速不到{random.randint(1, 5)}M，网费一分没少交。",
    lambda: f"学生处的奖学金评定结果什么时候公示？{random.choice(['辅导员', '学院', '班长'])}说还要等{random.randint(1, 3)}周，能不能给个准确时间？",
]
inquiries_en = [
    lambda: f"Does anyone know when heating starts in {random.choice(['the international dorm', 'graduate apartment A', 'north campus building 7'])}? It's {random.randint(6, 12)} degrees in my room at night.",
    lambda: f"Course registration crashed again at {random.choice(['8am', 'noon', '8pm'])}. {random.randint(10, 40)} minutes of spinning wheel. Please fix the system, LUT.",
    lambda: f"The shuttle bus between the south lake campus and the north campus is always late on {random.choice(['Mondays', 'weekends', 'rainy days'])}. Waited {random.randint(20, 50)} minutes today.",
    lambda: f"Why is there no English version of the {random.choice(['scholarship notice', 'library rules', 'dorm heating schedule', 'exam timetable'])} on the LUT website? International students keep missing deadlines.",
]
suggestions = [
    lambda: f"建议学校在{random.choice(['期末', '考研冲刺', '期中'])}期间把图书馆开放到晚上{random.choice(['11点', '12点'])}，很多同学需要安静的自习空间。",
    lambda: f"建议在{random.choice(['北苑主干道', '南湖校区东门', '实验楼前'])}划出自行车道，上下课高峰人车混行太危险了。",
    lambda: f"建议各个食堂都像第三食堂一样设信息公开栏，公示食材来源和卫生检查记录，大家吃得放心。",
    lambda: f"给学校提个建议：选课系统能不能分{random.choice(['年级', '学院', '时段'])}错峰开放，减轻服务器压力。",
    lambda: f"建议校车增加{random.choice(['早7点', '晚9点', '周末中午'])}的班次，并在小程序上显示实时位置。",
]
suggestions_en = [
    lambda: f"Suggestion for LUT: keep the library open until {random.choice(['11pm', 'midnight'])} during exam weeks. Lots of us have nowhere quiet to study.",
    lambda: f"Suggestion: a real-time map for the campus shuttle would save everyone {random.randint(10, 30)} minutes of waiting in the cold.",
    lambda: "It would really help if the university posted canteen inspection records online, in Chinese and English.",
]
chatter = [
    lambda: f"南湖的银杏叶黄了，{random.choice(['傍晚', '清晨', '午后'])}去走了一圈，太美了。澜江理工最美的季节来了。",
    lambda: f"今天校运会{random.choice(['男子', '女子'])}{random.choice(['4x100', '1500米', '跳远', '铅球'])}我们学院拿了第{random.choice(['一', '二', '三'])}！",
    lambda: f"期中考试周，{random.choice(['高数', '大物', '线代', '有机化学', '材料力学'])}复习到凌晨{random.randint(1, 3)}点，谁来救救我。",
    lambda: f"{random.choice(['机器人社', '摄影协会', '辩论队', '吉他社', '天文社'])}周{random.choice('一二三四五六日')}晚上在{random.choice(['学活', '大礼堂', '南湖广场'])}有活动，欢迎大家来玩！",
    lambda: f"澜江的秋天终于来了，今天最高气温只有{random.randint(12, 19)}度，出门记得加衣服。",
    lambda: f"北苑{random.choice(['第一食堂', '第二食堂'])}的{random.choice(['牛肉面', '煎饺', '糖醋里脊', '麻辣烫'])}还是这么好吃，{random.randint(8, 16)}块钱一大碗。",
    lambda: f"实验又失败了，第{random.randint(3, 12)}次重做，导师说明天组会要看数据……",
    lambda: f"澜江理工{random.choice(['校庆', '图书馆', '体育馆', '南湖'])}的{random.choice(['夜景', '日出', '晚霞'])}，随手一拍就是壁纸。",
]
chatter_en = [
    lambda: f"The ginkgo trees by the south lake turned gold this week. Best time of year on the LUT campus. #autumn",
    lambda: f"Midterms: {random.choice(['calculus', 'physics', 'organic chemistry', 'linear algebra'])} until {random.randint(1, 3)}am again. Send coffee.",
    lambda: f"Our {random.choice(['robotics club', 'photography society', 'debate team', 'astronomy club'])} meets {random.choice(['Tuesday', 'Thursday', 'Saturday'])} at {random.choice(['the student centre', 'the main hall', 'the lake square'])}. Everyone welcome!",
    lambda: f"Lanjiang finally got cold: {random.randint(12, 19)} degrees today. Time to find my jacket.",
    lambda: f"The beef noodles at canteen No. {random.choice([1, 2])} are still the best {random.randint(8, 16)} yuan you can spend in Lanjiang.",
]
for gen, n, lang, srcs in [(inquiries, 420, "zh", ["weibo", "forum:澜大BBS", "zhihu", "weibo"]), (inquiries_en, 120, "en", ["twitter", "reddit"]),
                           (suggestions, 180, "zh", ["weibo", "forum:澜大BBS", "zhihu"]), (suggestions_en, 60, "en", ["twitter", "reddit"]),
                           (chatter, 680, "zh", ["weibo", "weibo", "forum:澜大BBS", "douyin"]), (chatter_en, 200, "en", ["twitter", "reddit"])]:
    for _ in range(n):
        t = rand_time()
        text = random.choice(gen)()
        if lang == "zh":
            text = random.choice(["", "", "求助：", "吐槽一下，", "#澜江理工# "]) + text
        h = random.choice(ZH_HANDLES[:19] if lang == "zh" else EN_HANDLES)
        url = weibo_url() if lang == "zh" else f"https://x.example/{h}/status/{random.randint(10**15, 10**16)}"
        add(t, text, random.choice(srcs), lang, url=url, author=h)

# Official answers to inquiries (the organization's own channels).
answers = [
    (2, "关于选课系统访问异常的说明：10月7日上午选课高峰期间系统访问量超出设计容量，教务处已完成扩容，并将于10月9日起分年级错峰开放选课。给同学们带来不便，深表歉意。", "选课系统访问异常说明"),
    (9, "后勤集团关于北苑宿舍供暖的答复：今年北苑校区宿舍将于10月28日提前试供暖，12号楼热水管道已于10月12日完成检修。如有问题请拨打后勤服务热线。", "关于宿舍供暖和热水问题的答复"),
    (15, "图书馆关于期末延长开放时间的通知：自11月1日起，图书馆一至三层自习区开放时间延长至晚上11点，考试周延长至24点。感谢同学们的建议。", "图书馆延长开放时间通知"),
    (17, "关于增开校车班次的通知：自10月23日起，南湖校区与北苑校区之间增开早7点、晚9点两班校车，校车实时位置可在学校小程序查询。", "增开校车班次通知"),
]
for day, text, title in answers:
    o = add(at(day, 10), text, "wechat:澜江理工大学", "zh", title=title, url=f"https://www.lut.example/info/{1000 + day}/notice.htm")
    reposts(o, random.randint(5, 12), at(day, 10, 30), 8, "zh")
for day, text in [(10, "LUT International Office: notices about the No. 3 canteen and health services are now available in English on the international student portal."),
                  (16, "LUT Library: from 1 November the study areas on floors 1–3 stay open until 11pm, and until midnight during exam weeks. Thank you for your suggestions.")]:
    o = add(at(day, 11), text, "web:lut.example", "en", url=f"https://en.lut.example/news/{day}.html")
    reposts(o, 4, at(day, 11, 30), 6, "en")

items.sort(key=lambda i: i["published_at"])
out = os.path.join(HERE, "lanjiang.jsonl")
with open(out, "w", encoding="utf-8") as f:
    for it in items:
        f.write(json.dumps(it, ensure_ascii=False) + "\n")
zh = sum(1 for i in items if i["lang"] == "zh")
print(f"wrote {len(items)} items ({zh} zh, {len(items) - zh} en) to {os.path.relpath(out)}")

"""Appendix A, the glossary: every term the source articles use is defined, every entry links to
the section that teaches it, and the search's word list holds every Chinese term."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "chapters/appendix/glossary.md"
JIEBA_DICT = ROOT / "tools/jieba_glossary.txt"
CJK = re.compile(r"[\u4e00-\u9fff]")

# Terms of the five source articles (../shared/seeds), as they write them.
ARTICLE_TERMS = [
    "大模型", "模型压缩", "分布式训练", "模型解释", "可解释性", "模型优化", "可扩展性", "算力", "能效",
    "模型训练", "模型推理", "部署", "神经网络", "卷积神经网络", "递归神经网络", "变分自编码器",
    "感知器", "激活函数", "全连接层", "损失函数", "均方误差", "交叉熵", "梯度", "梯度下降",
    "随机梯度下降", "反向传播", "后向传播", "优化器", "正则化", "过拟合", "偏差", "参数",
    "自注意力", "编码器", "解码器", "生成模型", "自然语言处理", "计算机视觉", "人文关怀",
]


def entries():
    """The glossary as a list of (term lines, definition) pairs."""
    text = GLOSSARY.read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    result = []
    for block in re.split(r"\n\s*\n", body.strip("\n")):
        lines = block.splitlines()
        terms = [line for line in lines if line and not line.startswith(" ")]
        definition = " ".join(line.strip() for line in lines if line.startswith(" "))
        result.append((terms, definition))
    return result


def test_every_entry_has_a_definition_and_a_section():
    found = entries()
    assert len(found) >= 60
    for terms, definition in found:
        assert terms and definition, terms
        assert re.search(r"\{doc\}`[^`]+`", definition), f"{terms[0]}: no link to a section"


def test_terms_are_unique():
    terms = [term for names, _ in entries() for term in names]
    assert len(terms) == len(set(terms)), sorted(t for t in terms if terms.count(t) > 1)


def test_every_article_term_is_in_the_glossary():
    text = GLOSSARY.read_text(encoding="utf-8")
    missing = [term for term in ARTICLE_TERMS if term not in text]
    assert missing == []


def test_the_search_dictionary_lists_every_chinese_term():
    chinese = {term for names, _ in entries() for term in names if CJK.search(term)}
    listed = {line.split()[0] for line in JIEBA_DICT.read_text(encoding="utf-8").splitlines()}
    assert chinese - listed == set()
    assert listed - chinese == set()


def test_the_search_indexes_each_chinese_term_whole():
    jieba = pytest.importorskip("jieba")
    import logging

    jieba.setLogLevel(logging.ERROR)
    segmenter = jieba.Tokenizer()
    segmenter.load_userdict(str(JIEBA_DICT))
    for names, _ in entries():
        for term in filter(CJK.search, names):
            assert term in segmenter.cut_for_search(term), term

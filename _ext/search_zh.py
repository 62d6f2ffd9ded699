"""Chinese search without Sphinx 7's quadratic slowdown.

Sphinx's Chinese indexer (``html_search_language: zh``) splits Chinese text with jieba and
stems English words, but keeps every English word it has seen in a *list* and tests
membership in it for each word it stems: quadratic in the size of the book, about 2.5
minutes of a 3-minute build here. This subclass keeps those words in a set; the index it
writes is the same.
"""
from sphinx.search import languages
from sphinx.search import zh


class SetSearchChinese(zh.SearchChinese):
    """``SearchChinese`` with ``latin_terms`` as a set: the same index, in linear time."""

    def init(self, options):
        super().init(options)
        self.latin_terms = set()

    def split(self, input):
        chinese = list(zh.jieba.cut_for_search(input)) if zh.JIEBA else []
        latin = [term.strip() for term in self.latin1_letters.findall(input)]
        self.latin_terms.update(latin)
        return chinese + latin


def setup(app):
    languages["zh"] = SetSearchChinese
    return {"parallel_read_safe": True, "parallel_write_safe": True}

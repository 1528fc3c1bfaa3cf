"""Haystack's Whoosh backend with paging by offset, as the lab shop's search engine.

haystack 3.4 turns a slice [start:end] into a Whoosh page number, int(start / (end - start)) + 1,
which is only right for full pages: Django's paginator asks for the short last page as
[60:68], Whoosh serves page 8 of 8-item pages (items 57-64) and items 65-68 are listed on no
page at all. A shop operator would patch this; so does the lab, by asking Whoosh for the first
`end` hits and slicing them when the slice is not page-aligned.
"""

from haystack.backends import whoosh_backend


class OffsetPagingWhooshBackend(whoosh_backend.WhooshSearchBackend):
    def search(self, query_string, start_offset=0, end_offset=None, **kwargs):
        start = start_offset or 0
        if end_offset and start and start % (end_offset - start):
            found = super().search(query_string, start_offset=0, end_offset=end_offset, **kwargs)
            found["results"] = found.get("results", [])[start:end_offset]
            return found
        return super().search(query_string, start_offset=start_offset, end_offset=end_offset, **kwargs)


class WhooshEngine(whoosh_backend.WhooshEngine):
    backend = OffsetPagingWhooshBackend

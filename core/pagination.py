from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    """`{"count", "next", "previous", "results"}`; 50 a page, at most 500 (`?page_size=`)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    page_size_query_description = "Rows a page: 50 unless told, at most 500."

    def get_paginated_response_schema(self, schema):
        # `count` is absent when a list of synced objects answers a delta (`updated_since`, `cursor`).
        page = super().get_paginated_response_schema(schema)
        page["required"] = ["next", "previous", "results"]
        page["properties"]["count"]["description"] = "all rows of the list; absent in a delta"
        return page


class TimeCursorPagination(CursorPagination):
    """For lists that grow without bound (ledgers, logs): no count, stable under inserts."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    """`{"count", "next", "previous", "results"}`; 50 a page, at most 500 (`?page_size=`)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class TimeCursorPagination(CursorPagination):
    """For lists that grow without bound (ledgers, logs): no count, stable under inserts."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

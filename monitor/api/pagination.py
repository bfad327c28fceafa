"""Pages of ``?page=N``, ``?page_size=`` up to a limit; a page past the end is a 404."""

from rest_framework.pagination import PageNumberPagination

MAX_PAGE_SIZE = 500


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

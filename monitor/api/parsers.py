"""Request bodies: JSON nested too deeply for Python's parser is a 400, as unreadable JSON is,
instead of a server error (the forms' ``ReadableJSONDecoder`` does the same for their fields)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class ReadableJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None

"""Request bodies are UTF-8 (core.limits refuses others); this reads what a request declared."""

UTF8 = ("utf-8", "utf8")


def declared_charset(content_type: str) -> str | None:
    """The `charset` parameter of a Content-Type, lower case, or None."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None

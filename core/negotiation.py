from rest_framework.negotiation import DefaultContentNegotiation


class FormatOverrideNegotiation(DefaultContentNegotiation):
    """`?format=csv` wins over the Accept header: a client that accepts JSON still gets the CSV it named."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        for renderer in renderers:
            if wanted and renderer.format == wanted:
                return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)

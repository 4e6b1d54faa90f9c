"""Browser pages of our own next to allauth's (which live under /accounts/)."""

from django.views.generic import TemplateView


class EmailConfirmedView(TemplateView):
    template_name = "account/email_confirmed.html"

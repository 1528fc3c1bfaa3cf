"""WSGI entry point for gunicorn (oscar_lab_site.wsgi:application)."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

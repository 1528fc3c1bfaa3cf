"""Django settings for the lab's django-oscar shop (runs in the oscar venv, never imported by
onionwatch). Everything instance-specific comes from the JSON file named by
OSCAR_LAB_CONFIG, written by lab.apps: database and media paths, secret key, shop name.
Nothing reaches outside: mail goes to Django's dummy backend, search is the database
Whoosh backend, no CDN, no analytics, no update check; the server binds 127.0.0.1 only.
"""

import json
import os
from pathlib import Path

from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *

CFG = json.loads(Path(os.environ["OSCAR_LAB_CONFIG"]).read_text(encoding="utf-8"))

SECRET_KEY = CFG["secret_key"]
DEBUG = False
ALLOWED_HOSTS = ["*"]  # the onion address (Host header) and 127.0.0.1
INSTALLED_APPS = [*OSCAR_APPS, "sorl.thumbnail"]
SITE_ID = 1
ROOT_URLCONF = "oscar_lab_site.urls"
WSGI_APPLICATION = "oscar_lab_site.wsgi.application"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.debug",
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.template.context_processors.i18n",
        "django.contrib.messages.context_processors.messages",
        "oscar.apps.search.context_processors.search_form",
        "oscar.apps.checkout.context_processors.checkout",
        "oscar.apps.communication.notifications.context_processors.notifications",
        "oscar.core.context_processors.metadata",
    ]},
}]
AUTHENTICATION_BACKENDS = ["oscar.apps.customer.auth_backends.EmailBackend", "django.contrib.auth.backends.ModelBackend"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": CFG["database"],
                         "OPTIONS": {"timeout": 20}}}
# Oscar's catalogue and category pages are search results (haystack): Whoosh is the backend that
# lists and filters without a search server (haystack's "simple" backend lists nothing).
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "oscar_lab_site.search.WhooshEngine",  # offset paging fix
                                    "PATH": CFG.get("search_index") or str(Path(CFG["database"]).parent / "whoosh")}}
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.BaseSignalProcessor"  # the seed step runs update_index once
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
STATIC_ROOT = CFG.get("static_root")
MEDIA_URL = "/media/"
MEDIA_ROOT = CFG["media_root"]
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
THUMBNAIL_DEBUG = False
OSCAR_SHOP_NAME = CFG.get("shop_name", "Oscar")
OSCAR_SHOP_TAGLINE = CFG.get("tagline", "")
OSCAR_DEFAULT_CURRENCY = CFG.get("currency", "USD")
OSCAR_PRODUCTS_PER_PAGE = int(CFG.get("products_per_page", 20))
OSCAR_FROM_EMAIL = "shop@localhost"
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"stderr": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["stderr"], "level": "WARNING"}}

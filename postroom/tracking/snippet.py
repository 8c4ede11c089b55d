"""The HTML sign-up form a list's page offers to paste into any website.

It posts to `/api/public/subscription` on this installation. With the small
script it loads (static/postroom/signup.js) the post goes by fetch, the answer
shows under the form and a captcha, when the list has one, is solved in the
background; without JavaScript (and without a captcha) it is a plain form
post answered by Postroom's thanks page. Its words are in the list's language, else
in the language of the admin who copies it.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from postroom.audience.languages import of_list
from postroom.audience.models import MailingList
from postroom.tracking.forms import HONEYPOT


def signup_snippet(mailing_list: MailingList) -> str:
    base = settings.POSTROOM_BASE_URL
    context = {
        "list": mailing_list,
        "action": f"{base}/api/public/subscription",
        "captcha_url": f"{base}/api/public/captcha" if mailing_list.captcha else "",
        "script": f"{base}/static/postroom/signup.js",
        "honeypot": HONEYPOT,
    }
    with translation.override(of_list(mailing_list) or translation.get_language()):
        html = render_to_string("web/public/signup_snippet.html", context)
    # The template's tags leave blank lines; the pasted HTML should read clean.
    return "\n".join(line for line in html.splitlines() if line.strip())
